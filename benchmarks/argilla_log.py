"""Logging 5,000 preference records to the local Argilla stack: records/s, and the ratio against
the raw SDK's `dataset.records.log` on the same records (target: >= 0.9x).

Both sides log into their own dataset made from the same template; ours starts from CandidateRows
(grouping, ids, shuffling and suggestions are timed), the SDK gets ready-made `rg.Record`s built
from our payloads (their construction is not timed). The sides alternate chunk by chunk.

Run: .venv/bin/python benchmarks/argilla_log.py [--records 5000] [--chunk 500]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from zephyr_integrations.argilla_stack import LocalStack, StackConfig
from zephyr_integrations.preferences.argilla.client import connect
from zephyr_integrations.preferences.argilla.layout import build_payload, group_candidates
from zephyr_integrations.preferences.argilla.push import (
    ensure_dataset,
    log_payloads,
    record_count,
)
from zephyr_integrations.preferences.argilla.templates import RankingTemplate
from zephyr_integrations.preferences.records import AspectRating, CandidateRow, prompt_id

TARGET = 0.9


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rows(records: int, n: int) -> list[CandidateRow]:
    rows: list[CandidateRow] = []
    for p in range(records):
        prompt = f"Benchmark prompt {p}: explain item {p} in two sentences."
        for m in range(n):
            rows.append(
                CandidateRow(
                    prompt_id=prompt_id(prompt),
                    prompt=prompt,
                    messages=[{"role": "user", "content": prompt}],
                    model=f"model-{m}",
                    sample=0,
                    response=f"Answer {p}/{m}. " + "Some words of an answer. " * 8,
                    params={},
                    usage=None,
                    finish_reason="stop",
                    ratings={"helpfulness": AspectRating(rating=1 + (p + m) % 5, rationale="")},
                    judge="bench-judge",
                )
            )
    return rows


def _sdk_records(template: RankingTemplate, rows: list[CandidateRow]) -> list[Any]:
    import argilla as rg

    out = []
    for group in group_candidates(rows):
        payload = build_payload(template, group)
        suggestions = [
            rg.Suggestion(s["question_name"], [v["value"] for v in s["value"]], agent=s["agent"])
            for s in payload["suggestions"]
        ]
        out.append(
            rg.Record(
                id=payload["external_id"],
                fields=payload["fields"],
                metadata=payload["metadata"],
                suggestions=suggestions,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--chunk", type=int, default=500, help="records per interleaved step")
    args = parser.parse_args()

    # A SIGTERM (e.g. from `timeout`) must still run `finally`: the stack's processes outlive us.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(SystemExit(143)))
    data = Path(tempfile.mkdtemp(prefix="zephyr-argilla-bench-"))
    stack = LocalStack(
        StackConfig(data_dir=data, server_port=_port(), search_port=_port(), redis_port=_port())
    )
    try:
        t0 = time.perf_counter()
        connection = stack.up()
        print(f"stack up in {time.perf_counter() - t0:.1f} s at {connection.api_url}")
        client = connect(connection.api_url, connection.api_key)
        template = RankingTemplate(responses=4)
        rows = _rows(args.records, 4)
        sdk_records = _sdk_records(template, rows)
        ours_ds = ensure_dataset(client, "bench-ours", template)
        sdk_ds = ensure_dataset(client, "bench-sdk", template)
        timings = {"ours": 0.0, "sdk": 0.0}
        # The server is the bottleneck and the machine is shared: interleave the two sides chunk
        # by chunk (alternating which goes first) so background load hits both alike.
        for step, first in enumerate(range(0, args.records, args.chunk)):
            chunk_rows = rows[first * 4 : (first + args.chunk) * 4]
            chunk_sdk = sdk_records[first : first + args.chunk]
            for side in ("ours", "sdk") if step % 2 == 0 else ("sdk", "ours"):
                start = time.perf_counter()
                if side == "ours":
                    payloads = [build_payload(template, g) for g in group_candidates(chunk_rows)]
                    log_payloads(client, ours_ds, payloads, progress=False)
                else:
                    sdk_ds.records.log(chunk_sdk, batch_size=256)
                timings[side] += time.perf_counter() - start
        for dataset in (ours_ds, sdk_ds):
            assert record_count(client, dataset) == args.records
        ours_rate = args.records / timings["ours"]
        sdk_rate = args.records / timings["sdk"]
        ratio = ours_rate / sdk_rate
        print(f"ours: CandidateRows -> records, batched upsert: {ours_rate:,.1f} records/s")
        print(f"raw SDK dataset.records.log (prebuilt rg.Records): {sdk_rate:,.1f} records/s")
        verdict = "PASS" if ratio >= TARGET else "FAIL"
        print(f"ratio {ratio:.2f}x (target >= {TARGET}x): {verdict}")
    finally:
        stack.down()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
