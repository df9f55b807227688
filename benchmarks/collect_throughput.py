"""collect throughput against the TGI-protocol server: 2,000 candidates at concurrency 64.

The server runs in its own process (its threads do not compete with the client for the GIL),
serving the scripted backend with 100 ms added latency per request. `collect` writes 500 prompts
x 4 candidates through ``ChatZephyr(backend="tgi")`` with ``concurrency=64``. The ideal wall time
is ceil(2000 / 64) x 0.1 s; the target is at least 0.85x of the ideal throughput. Side by side,
in the same run, the same 2,000 calls as a bare ``ChatZephyr.abatch`` at ``max_concurrency=64``
(no files, no progress bar): the client's own ceiling, so the cost of `collect` itself shows.

    python benchmarks/collect_throughput.py [--candidates 2000] [--concurrency 64] [--json out]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from zephyr_integrations.testing.server_process import scripted_server_process

SAMPLES = 4


def chat(url: str) -> object:
    from zephyr_integrations import ChatZephyr

    return ChatZephyr(backend="tgi", base_url=url, max_tokens=16, max_retries=3)


def run_collect(url: str, candidates: int, concurrency: int, folder: Path) -> tuple[float, int]:
    from zephyr_integrations.preferences.collect import Generator, collect
    from zephyr_integrations.preferences.prompts import read_prompts

    prompts = folder / "prompts.jsonl"
    count = candidates // SAMPLES
    prompts.write_text(
        "".join(json.dumps({"prompt": f"question {i}"}) + "\n" for i in range(count))
    )
    out = folder / f"candidates-{time.monotonic_ns()}.jsonl"
    model = chat(url)
    asyncio.run(model.ainvoke("warm up"))  # type: ignore[attr-defined]
    started = time.perf_counter()
    report = collect(
        read_prompts(prompts),
        [Generator(model, {"temperature": 0.7}, label="zephyr")],  # type: ignore[arg-type]
        out,
        n=SAMPLES,
        concurrency=concurrency,
    )
    elapsed = time.perf_counter() - started
    rows = out.read_text().count("\n")
    if report.failures or rows != count * SAMPLES:
        raise SystemExit(f"collect lost rows: {rows} written, {len(report.failures)} failed")
    return elapsed, rows


def run_abatch(url: str, candidates: int, concurrency: int) -> float:
    model = chat(url)

    async def go() -> float:
        await model.ainvoke("warm up")  # type: ignore[attr-defined]
        inputs = [f"question {i // SAMPLES}" for i in range(candidates)]
        started = time.perf_counter()
        replies = await model.abatch(  # type: ignore[attr-defined]
            inputs, config={"max_concurrency": concurrency}, temperature=0.7
        )
        elapsed = time.perf_counter() - started
        if len(replies) != candidates:
            raise SystemExit("abatch lost replies")
        return elapsed

    return asyncio.run(go())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    collect_runs: list[float] = []
    abatch_runs: list[float] = []
    with scripted_server_process(args.latency) as server:
        url = server.url
        with tempfile.TemporaryDirectory() as folder:
            for _ in range(args.repeats):  # interleaved, so load from others hits both alike
                seconds, _ = run_collect(url, args.candidates, args.concurrency, Path(folder))
                collect_runs.append(seconds)
                abatch_runs.append(run_abatch(url, args.candidates, args.concurrency))

    ideal = math.ceil(args.candidates / args.concurrency) * args.latency
    best_collect, best_abatch = min(collect_runs), min(abatch_runs)
    ratio = ideal / best_collect
    passed = ratio >= 0.85
    print("| measurement | value | target |")
    print("|---|---:|---|")
    print(
        f"| collect: {args.candidates} candidates, concurrency {args.concurrency}, "
        f"{args.latency * 1000:.0f} ms latency | best {best_collect:.2f} s "
        f"({args.candidates / best_collect:.0f} candidates/s; runs "
        f"{', '.join(f'{r:.2f}' for r in collect_runs)}) | ideal {ideal:.2f} s |"
    )
    print(
        f"| collect throughput / ideal | {ratio:.2f}x | >= 0.85x: {'PASS' if passed else 'FAIL'} |"
    )
    print(
        f"| bare ChatZephyr.abatch, same calls (client ceiling) | best {best_abatch:.2f} s "
        f"({ideal / best_abatch:.2f}x of ideal) | - |"
    )
    print(f"| collect / bare abatch wall time | {best_collect / best_abatch:.2f}x | - |")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "collect_runs_s": collect_runs,
                    "abatch_runs_s": abatch_runs,
                    "ideal_s": ideal,
                    "throughput_ratio": ratio,
                },
                indent=2,
            )
        )
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
