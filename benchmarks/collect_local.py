"""`collect` on a local model against the raw batched bound (issue 16, speed).

64 prompts x 4 sampled answers (temperature 0.7, a seed per sample, 64 new tokens at most)
collected with ``acollect`` on ``ChatZephyr(backend="transformers")`` - every call joins the
model's continuously batched engine - against one raw padded sampled ``model.generate`` of the
same 256 prompts on the same loaded model, in the same run. Throughput is generated tokens per
second (each answer up to its EOS).

Usage::

    python benchmarks/collect_local.py --model tiny
    python benchmarks/collect_local.py --model smollm2 --threads 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from langchain_core.messages import HumanMessage

from zephyr_integrations import ChatZephyr, format_messages
from zephyr_integrations.preferences.collect import Generator, acollect
from zephyr_integrations.preferences.prompts import read_prompts

PROMPTS = 64
SAMPLES = 4
MAX_TOKENS = 64
TOPICS = ("rivers", "volcanoes", "bees", "bridges", "comets", "forests", "tides", "deserts")


def model_folder(kind: str, scratch: Path) -> Path:
    if kind == "tiny":
        from zephyr_integrations.testing import make_tiny_zephyr

        return make_tiny_zephyr(scratch / "tiny-zephyr")
    from zephyr_integrations.local_models import smollm2_folder

    return smollm2_folder()


def questions() -> list[str]:
    return [f"Tell me fact number {i} about {TOPICS[i % len(TOPICS)]}." for i in range(PROMPTS)]


def collected(chat: ChatZephyr, scratch: Path) -> tuple[float, int]:
    source = scratch / "prompts.jsonl"
    source.write_text("".join(json.dumps({"prompt": q}) + "\n" for q in questions()))
    output = scratch / f"candidates-{time.monotonic_ns()}.jsonl"
    params = {"temperature": 0.7, "max_tokens": MAX_TOKENS, "seed": 0}
    started = time.perf_counter()
    report = asyncio.run(
        acollect(
            read_prompts(source),
            [Generator(chat, params, label="local")],
            output,
            n=SAMPLES,
            concurrency=PROMPTS * SAMPLES,
        )
    )
    elapsed = time.perf_counter() - started
    assert report.written == PROMPTS * SAMPLES, report.failures
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    return elapsed, sum(row["usage"]["output_tokens"] for row in rows)


def raw(engine: Any) -> tuple[float, int]:
    prompts = [format_messages([HumanMessage(q)]) for q in questions() for _ in range(SAMPLES)]
    encoded = engine.tokenizer(prompts, return_tensors="pt", padding=True).to(engine.model.device)
    eos = sorted(engine.eos_ids)
    started = time.perf_counter()
    with torch.inference_mode():
        out = engine.model.generate(
            **encoded,
            max_new_tokens=MAX_TOKENS,
            do_sample=True,
            temperature=0.7,
            top_k=0,
            eos_token_id=eos,
            pad_token_id=engine.tokenizer.pad_token_id,
        )
    elapsed = time.perf_counter() - started
    tokens = 0
    for row in out[:, encoded["input_ids"].shape[1] :].tolist():
        ends = [i + 1 for i, token in enumerate(row) if token in eos]
        tokens += ends[0] if ends else len(row)
    return elapsed, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("tiny", "smollm2"), default="tiny")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        folder = model_folder(args.model, scratch)
        chat = ChatZephyr(model=str(folder), backend_kwargs={"dtype": "float32"})
        engine = chat._backend.engine  # type: ignore[attr-defined]
        chat.invoke("warm up", max_tokens=2)
        ours_s, ours_tokens = collected(chat, scratch)
        raw_s, raw_tokens = raw(engine)
    ours, bound = ours_tokens / ours_s, raw_tokens / raw_s
    print(
        json.dumps(
            {
                "model": args.model,
                "torch_threads": torch.get_num_threads(),
                "collect_tokens_per_s": round(ours, 1),
                "raw_generate_tokens_per_s": round(bound, 1),
                "collect_over_raw": round(ours / bound, 2),
                "seconds": {"collect": round(ours_s, 2), "raw": round(raw_s, 2)},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
