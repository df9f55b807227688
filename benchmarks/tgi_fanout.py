"""Fan-out: ChatZephyr against the other clients of the same server, side by side in one run.

The TGI-protocol server runs in its own process (so its threads do not compete with the client
for the GIL), serving the scripted (zero-work) backend with a fixed added latency per request.
Every client sends the same N prompts at concurrency C; the ideal wall time is
ceil(N / C) * latency. Rounds interleave the clients so machine noise hits them alike; the best
round of each is reported, with its client CPU per request.

- TGI's routes: ChatZephyr(backend="tgi") next to bare aiohttp, huggingface_hub's
  ``AsyncInferenceClient``, ``ChatOpenAI`` on the server's ``/v1`` and langchain-huggingface's
  ``HuggingFaceEndpoint`` (one round: it is slow). Targets: <= 1.3x ideal, <= 1.2 ms client CPU
  per request.
- ``/v1/completions``: ChatZephyr(backend="openai") next to the raw ``openai`` client (and
  ``ChatOpenAI`` again, on ``/v1/chat/completions``); same targets.
- A new instance's first async call against a warm one's.

The 3-replica load lives in benchmarks/replica_load.py.

    python benchmarks/tgi_fanout.py [--requests 512] [--concurrency 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fanout_clients import (
    Client,
    bare_aiohttp,
    chat_openai,
    chat_zephyr,
    hf_endpoint,
    hub_client,
    openai_raw,
    zephyr_backend,
)

from zephyr_integrations.testing.server_process import scripted_server_process

TARGET_RATIO, TARGET_CPU_MS = 1.3, 1.2
Runs = dict[str, list[dict[str, Any]]]


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux), to show where a fan-out's time goes."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one_round(client: Client, requests: int, concurrency: int, pid: int) -> dict[str, Any]:
    """One fan-out of ``client``, warmed up first."""
    prompts = [f"question number {i}" for i in range(requests)]
    await client.warm_up()
    server_before, client_before = server_cpu_seconds(pid), time.process_time()
    started = time.perf_counter()
    texts = await client.run(prompts, concurrency)
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - client_before
    server_cpu = server_cpu_seconds(pid) - server_before
    await client.close()
    return {
        "seconds": elapsed,
        "client_cpu_ms_per_request": client_cpu / requests * 1000,
        "server_cpu_ms_per_request": server_cpu / requests * 1000,
        "wrong": sum(text.strip() != prompt for text, prompt in zip(texts, prompts, strict=True)),
    }


async def measure(
    makers: list[Callable[[str], Client]], url: str, pid: int, args: argparse.Namespace,
    once: frozenset[str] = frozenset(),
) -> Runs:  # fmt: skip
    """Every client's rounds, interleaved, in one event loop (LangChain's OpenAI clients keep a
    process-wide HTTP client bound to the first loop); clients in ``once`` run one round."""
    runs: Runs = {}
    for round_number in range(args.repeats):
        for make in makers:
            client = make(url)
            if round_number and client.name in once:
                continue
            result = await one_round(client, args.requests, args.concurrency, pid)
            runs.setdefault(client.name, []).append(result)
    return runs


async def both(url: str, pid: int, args: argparse.Namespace) -> tuple[Runs, Runs]:
    """TGI's routes, then OpenAI's, in one event loop."""
    tgi = await measure(
        [lambda u: chat_zephyr(u, "tgi"), lambda u: zephyr_backend(u, "tgi"), bare_aiohttp,
         hub_client, chat_openai, hf_endpoint],
        url, pid, args, once=frozenset({"langchain-huggingface HuggingFaceEndpoint"}),
    )  # fmt: skip
    openai = await measure(
        [
            lambda u: chat_zephyr(u, "openai"),
            lambda u: zephyr_backend(u, "openai"),
            openai_raw,
            chat_openai,
        ],
        url,
        pid,
        args,
    )
    return tgi, openai


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


def table(title: str, runs: Runs, ideal: float, ours: str) -> bool:
    """Print one side-by-side table; True when ``ours`` meets both targets."""
    print(f"\n{title}\n")
    print("| client | best wall time | / ideal | client CPU per request | wrong replies |")
    print("|---|---:|---:|---:|---:|")
    ok = False
    for name, results in runs.items():
        best = min(results, key=lambda r: r["seconds"])
        ratio, cpu = best["seconds"] / ideal, best["client_cpu_ms_per_request"]
        verdict = ""
        if name == ours:
            ok = ratio <= TARGET_RATIO and cpu <= TARGET_CPU_MS
            verdict = f" (targets <= {TARGET_RATIO}x, <= {TARGET_CPU_MS} ms: "
            verdict += f"{'PASS' if ok else 'FAIL'})"
        rounds = ", ".join(f"{r['seconds']:.3f}" for r in results)
        print(
            f"| {name}{verdict} | {best['seconds']:.3f} s (rounds {rounds}) | {ratio:.2f}x | "
            f"{cpu:.2f} ms | {best['wrong']} |"
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    import huggingface_hub.constants

    huggingface_hub.constants.HF_HUB_OFFLINE = False  # loopback only

    load_before = os.getloadavg()[0]
    with scripted_server_process(args.latency) as server:
        url, pid = server.url, server.pid
        tgi, openai = asyncio.run(both(url, pid, args))
        first = asyncio.run(first_call(url))
    ideal = math.ceil(args.requests / args.concurrency) * args.latency
    print(
        f"(1-minute load average: {load_before:.2f} before the run, {os.getloadavg()[0]:.2f} "
        f"after, on {os.cpu_count()} CPUs)"
    )
    print(
        f"\nabatch of {args.requests} prompts at concurrency {args.concurrency}, "
        f"{args.latency * 1000:.0f} ms server latency: ideal {ideal:.3f} s"
    )
    tgi_ok = table("TGI's native routes (/generate)", tgi, ideal, "ChatZephyr(backend='tgi')")
    openai_ok = table("OpenAI's /v1/completions", openai, ideal, "ChatZephyr(backend='openai')")
    gap = first["first_ms"] - first["warm_ms"]  # a connection, a session and /info
    first_ok = gap <= 10
    print(
        f"\nfirst async call of a new instance in a fresh event loop / a warm call: "
        f"{first['first_ms']:.1f} ms / {first['warm_ms']:.1f} ms (+{gap:.1f} ms: one "
        f"connection and /info; target <= +10 ms: {'PASS' if first_ok else 'FAIL'})"
    )
    if args.json:
        report = {"ideal_s": ideal, "tgi": tgi, "openai": openai, "first_call": first}
        report["load_average"] = [load_before, os.getloadavg()[0]]
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if tgi_ok and openai_ok and first_ok else 1


if __name__ == "__main__":
    sys.exit(main())
