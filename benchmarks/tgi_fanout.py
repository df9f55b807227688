"""ChatZephyr(backend="tgi") under fan-out and load, against the TGI-protocol server.

The server runs in its own process (so its threads do not compete with the client for the GIL),
serving the scripted backend with a fixed added latency per request.

- Fan-out: ``abatch`` of N requests at ``max_concurrency`` C with latency L; the ideal wall time
  is ceil(N / C) * L. Targets: within 1.3x of it, at most 1.2 ms of client CPU per request,
  printed next to the raw hub client and bare aiohttp on the same server.
- Load: M requests at concurrency K over 3 replicas (``base_url`` comma-separated): none lost,
  none failed without a retry-exhausted error, and
  no file descriptor left open (counted before and after).

    python benchmarks/tgi_fanout.py [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from zephyr_integrations.testing.server_process import scripted_server_process


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux), to show where a fan-out's time goes."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if Path("/proc/self/fd").is_dir() else -1


async def fan_out(
    url: str, requests: int, concurrency: int, pid: int, backend: str = "tgi"
) -> dict[str, float]:
    from zephyr_integrations import ChatZephyr

    chat = ChatZephyr(backend=backend, base_url=url, max_tokens=8, temperature=0)
    await chat.ainvoke("warm up")
    server_before, client_before = server_cpu_seconds(pid), time.process_time()
    started = time.perf_counter()
    replies = await chat.abatch(
        [f"question number {i}" for i in range(requests)], config={"max_concurrency": concurrency}
    )
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - client_before
    server_cpu = server_cpu_seconds(pid) - server_before
    wrong = [i for i, r in enumerate(replies) if r.content != f"question number {i}"]
    if wrong:
        raise SystemExit(f"fan-out: {len(wrong)} replies were wrong, e.g. #{wrong[0]}")
    await chat._backend.aclose()  # type: ignore[attr-defined]
    return {
        "seconds": elapsed,
        "client_cpu_ms_per_request": client_cpu / requests * 1000,
        "server_cpu_ms_per_request": server_cpu / requests * 1000,
    }


async def floors(url: str, requests: int, concurrency: int) -> dict[str, float]:
    """The same fan-out one layer down: huggingface_hub's client alone, then bare aiohttp.

    They show how much of the wall time the client stack costs before ChatZephyr adds anything.
    """
    import aiohttp
    from huggingface_hub import AsyncInferenceClient

    gate = asyncio.Semaphore(concurrency)
    body = {"max_new_tokens": 8, "details": True, "return_full_text": False, "do_sample": False}

    async def timed(call: Any) -> float:
        async def one(i: int) -> None:
            async with gate:
                await call(i)

        await call(-1)  # warm up
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        return time.perf_counter() - started

    hub = AsyncInferenceClient(base_url=url, timeout=60)
    hub_s = await timed(lambda i: hub.text_generation(f"question number {i}", **body))
    await hub.close()
    connector = aiohttp.TCPConnector(limit=256, ssl=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        payload = {"parameters": body}

        async def post(i: int) -> None:
            data = {**payload, "inputs": f"q {i}"}
            async with session.post(f"{url}/generate", json=data) as response:
                await response.json()

        aiohttp_s = await timed(post)
    return {"hub_client_s": hub_s, "aiohttp_s": aiohttp_s}


async def first_call(url: str) -> dict[str, float]:
    """A new instance's first async call in a fresh event loop, against a warm one's."""
    from zephyr_integrations import ChatZephyr

    chat = ChatZephyr(backend="tgi", base_url=url, max_tokens=8, temperature=0)
    started = time.perf_counter()
    await chat.ainvoke("first")
    first = time.perf_counter() - started
    warm = []
    for _ in range(5):
        started = time.perf_counter()
        await chat.ainvoke("warm")
        warm.append(time.perf_counter() - started)
    return {"first_ms": first * 1000, "warm_ms": sorted(warm)[2] * 1000}


async def load(url: str, requests: int, concurrency: int) -> dict[str, Any]:
    from zephyr_integrations import ChatZephyr

    chat = ChatZephyr(backend="tgi", base_url=url, max_tokens=8, temperature=0, max_retries=3)
    await chat.ainvoke("warm up")
    fds_before = open_fds()
    started = time.perf_counter()
    results = await chat.abatch(
        [f"load {i}" for i in range(requests)],
        config={"max_concurrency": concurrency},
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - started
    await chat._backend.aclose()  # type: ignore[attr-defined]
    await asyncio.sleep(0.2)
    fds_after = open_fds()
    errors = [r for r in results if isinstance(r, BaseException)]
    answered = sum(1 for i, r in enumerate(results) if getattr(r, "content", None) == f"load {i}")
    return {
        "requests": requests,
        "concurrency": concurrency,
        "answered": answered,
        "errors": len(errors),
        "error_kinds": sorted({type(e).__name__ for e in errors}),
        "lost": requests - answered - len(errors),
        "seconds": round(elapsed, 3),
        "requests_per_s": round(requests / elapsed, 1),
        "fds_before": fds_before,
        "fds_after": fds_after,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--load-requests", type=int, default=2000)
    parser.add_argument("--load-concurrency", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    with scripted_server_process(args.latency) as server:
        url = server.url
        ideal = math.ceil(args.requests / args.concurrency) * args.latency
        measured = [
            asyncio.run(fan_out(url, args.requests, args.concurrency, server.pid))
            for _ in range(args.repeats)
        ]
        runs = [m["seconds"] for m in measured]
        best_run = min(measured, key=lambda m: m["seconds"])
        best = best_run["seconds"]
        floor = asyncio.run(floors(url, args.requests, args.concurrency))
        openai = asyncio.run(fan_out(url, args.requests, args.concurrency, server.pid, "openai"))
        first = asyncio.run(first_call(url))
        with contextlib.ExitStack() as stack:  # the load goes to 3 replicas of one model
            others = [stack.enter_context(scripted_server_process(args.latency)) for _ in range(2)]
            replicas = ",".join([url, *(other.url for other in others)])
            load_result = asyncio.run(load(replicas, args.load_requests, args.load_concurrency))

    ratio = best / ideal
    load_average = os.getloadavg()[0]
    print(f"(1-minute load average during the run: {load_average:.2f} on {os.cpu_count()} CPUs)")
    cpu = best_run["client_cpu_ms_per_request"]
    fan_ok = ratio <= 1.3
    cpu_ok = cpu <= 1.2
    load_ok = load_result["lost"] == 0 and load_result["fds_after"] <= load_result["fds_before"]
    print("| measurement | value | target |")
    print("|---|---:|---|")
    print(
        f"| fan-out: abatch of {args.requests}, max_concurrency {args.concurrency}, "
        f"{args.latency * 1000:.0f} ms latency | best {best:.3f} s "
        f"(runs {', '.join(f'{r:.3f}' for r in runs)}) | ideal {ideal:.3f} s |"
    )
    print(f"| fan-out / ideal | {ratio:.3f}x | <= 1.3x: {'PASS' if fan_ok else 'FAIL'} |")
    print(
        f"| the same fan-out, raw huggingface_hub AsyncInferenceClient / bare aiohttp | "
        f"{floor['hub_client_s']:.3f} s ({floor['hub_client_s'] / ideal:.2f}x) / "
        f"{floor['aiohttp_s']:.3f} s ({floor['aiohttp_s'] / ideal:.2f}x) | - |"
    )
    print(
        f"| the same fan-out, ChatZephyr(backend='openai') on /v1/completions | "
        f"{openai['seconds']:.3f} s ({openai['seconds'] / ideal:.2f}x), "
        f"{openai['client_cpu_ms_per_request']:.2f} ms client CPU per request | - |"
    )
    gap = first["first_ms"] - first["warm_ms"]  # a connection, a session and /info
    print(
        f"| first async call of a new instance in a fresh event loop / a warm call | "
        f"{first['first_ms']:.1f} ms / {first['warm_ms']:.1f} ms (+{gap:.1f} ms: one "
        f"connection and /info) | <= +10 ms: {'PASS' if gap <= 10 else 'FAIL'} |"
    )
    print(
        f"| fan-out CPU per request (best run): client / server | "
        f"{best_run['client_cpu_ms_per_request']:.2f} ms / "
        f"{best_run['server_cpu_ms_per_request']:.2f} ms | client <= 1.2 ms: "
        f"{'PASS' if cpu_ok else 'FAIL'} |"
    )
    print(
        f"| load: {load_result['requests']} requests at concurrency "
        f"{load_result['concurrency']}, 3 replicas | {load_result['seconds']} s, "
        f"{load_result['requests_per_s']} req/s | - |"
    )
    print(
        f"| load: answered / errors / lost | {load_result['answered']} / "
        f"{load_result['errors']} / {load_result['lost']} | none lost: "
        f"{'PASS' if load_result['lost'] == 0 else 'FAIL'} |"
    )
    print(
        f"| load: open fds before / after | {load_result['fds_before']} / "
        f"{load_result['fds_after']} | no leak: "
        f"{'PASS' if load_result['fds_after'] <= load_result['fds_before'] else 'FAIL'} |"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "fan_out_runs": measured,
                    "floors": floor,
                    "openai_fan_out": openai,
                    "first_call": first,
                    "ideal_s": ideal,
                    "ratio": ratio,
                    "load": load_result,
                    "load_average": os.getloadavg(),
                },
                indent=2,
            )
        )
    return 0 if fan_ok and cpu_ok and load_ok else 1


if __name__ == "__main__":
    sys.exit(main())
