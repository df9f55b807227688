"""Load: ChatZephyr(backend="tgi") sends M requests at concurrency K to 3 replicas of one model.

Three TGI-protocol servers run in processes of their own (the scripted backend, a fixed latency
each); ``base_url`` names all three. Target: every request answered with its own reply, none
lost, and no file descriptor left open once the client is closed (``/proc/self/fd`` counted
before and after). A smaller form of it runs in tests/integration/test_replica_load.py.

    python benchmarks/replica_load.py [--requests 2000] [--concurrency 128] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from zephyr_integrations.testing.server_process import scripted_server_process


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def load(urls: list[str], requests: int, concurrency: int) -> dict[str, Any]:
    """Send ``requests`` prompts over ``urls`` and account for every one of them."""
    from zephyr_integrations import ChatZephyr

    url = ",".join(urls)
    chat = ChatZephyr(backend="tgi", base_url=url, max_tokens=8, temperature=0, max_retries=3)
    await chat.ainvoke("warm up")  # /info, read once per process (on the sync callers' loop)
    await chat._backend.aclose()  # type: ignore[attr-defined]
    fds_before = open_fds()
    started = time.perf_counter()
    results = await chat.abatch(
        [f"load {i}" for i in range(requests)],
        config={"max_concurrency": concurrency},
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - started
    await chat._backend.aclose()  # type: ignore[attr-defined]
    await asyncio.sleep(0.2)  # closed transports finish closing on the next loop turns
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
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with contextlib.ExitStack() as stack:
        replicas = [
            stack.enter_context(scripted_server_process(args.latency, model_id="zephyr"))
            for _ in range(3)
        ]
        result = asyncio.run(load([r.url for r in replicas], args.requests, args.concurrency))
    ideal = args.requests / args.concurrency * args.latency
    print(
        f"(1-minute load average: {load_before:.2f} before the run, {os.getloadavg()[0]:.2f} "
        f"after, on {os.cpu_count()} CPUs)"
    )
    ok = result["answered"] == args.requests and result["fds_after"] <= result["fds_before"]
    print("| measurement | value | target |")
    print("|---|---:|---|")
    print(
        f"| {args.requests} requests at concurrency {args.concurrency}, 3 replicas, "
        f"{args.latency * 1000:.0f} ms latency | {result['seconds']} s "
        f"({result['requests_per_s']} req/s; ideal {ideal:.2f} s) | - |"
    )
    print(
        f"| answered / errors / lost | {result['answered']} / {result['errors']} "
        f"{result['error_kinds'] or ''} / {result['lost']} | all answered: "
        f"{'PASS' if result['answered'] == args.requests else 'FAIL'} |"
    )
    print(
        f"| open fds before / after | {result['fds_before']} / {result['fds_after']} | no leak: "
        f"{'PASS' if result['fds_after'] <= result['fds_before'] else 'FAIL'} |"
    )
    if args.json:
        args.json.write_text(json.dumps(result | {"load_average": load_before}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
