"""Concurrent callers on one local model: continuous batching, side by side (issue 16).

64 concurrent ``ChatZephyr.ainvoke`` calls with mixed budgets (16-128 new tokens; greedy,
fp32) - what ``zephyr collect``/``judge`` and ``zephyr serve`` do - against, on the same loaded
model in the same run:

* **raw batched generate**: one left-padded ``model.generate`` of the same 64 prompts with
  ``max_new_tokens=128`` (rows that are done ride along until the longest ends): the bound;
* **sequential**: the same ``ainvoke`` calls one after another;
* **thread-per-call (before)**: what the backend did before continuous batching - each call its
  own ``model.generate`` in a worker thread, one at a time on the model.

Targets: continuous batching >= 0.8x the raw throughput and >= 4x the sequential throughput.
Throughput is useful tokens (each call's own budget, or up to its EOS) per second. The two slow
contenders run on a sample of the calls (every ``--sample``-th) to keep the run short; their
throughput is still tokens per second over the same mix.

Usage::

    python benchmarks/concurrent_throughput.py --model tiny
    python benchmarks/concurrent_throughput.py --model smollm2 --sample 8 --json out.json

Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import torch
from langchain_core.messages import HumanMessage

from zephyr_integrations import ChatZephyr, format_messages

CALLS = 64
TARGET_VS_RAW = 0.8
TARGET_VS_SEQUENTIAL = 4.0
TOPICS = (
    "the water cycle",
    "how a bicycle gear works",
    "why the sky is blue",
    "the French revolution",
    "photosynthesis",
    "how vaccines work",
    "the rules of chess",
    "what a compiler does",
)
ASKS = ("Explain {}.", "Give three facts about {}.", "Summarise {} for a child.", "What is {}?")


def workload() -> list[tuple[str, int]]:
    """64 (prompt, budget) pairs: prompts of a few lengths, budgets spread over 16-128."""
    calls = []
    for i in range(CALLS):
        question = ASKS[i % len(ASKS)].format(TOPICS[i % len(TOPICS)])
        calls.append((question, 16 + (i * 37) % 113))
    return calls


def model_folder(kind: str, scratch: Path) -> Path:
    if kind == "tiny":
        from zephyr_integrations.testing import make_tiny_zephyr

        return make_tiny_zephyr(scratch / "tiny-zephyr")
    from zephyr_integrations.local_models import smollm2_folder

    return smollm2_folder()


class Contenders:
    def __init__(self, chat: ChatZephyr, calls: list[tuple[str, int]]) -> None:
        self.chat = chat
        self.calls = calls
        self.engine: Any = chat._backend.engine  # type: ignore[attr-defined]
        self.lock = threading.Lock()

    def ours(self, calls: list[tuple[str, int]]) -> list[int]:
        async def run() -> list[Any]:
            return await asyncio.gather(*(self.chat.ainvoke(q, max_tokens=n) for q, n in calls))

        return [m.usage_metadata["output_tokens"] for m in asyncio.run(run())]

    def sequential(self, calls: list[tuple[str, int]]) -> list[int]:
        async def run() -> list[Any]:
            return [await self.chat.ainvoke(q, max_tokens=n) for q, n in calls]

        return [m.usage_metadata["output_tokens"] for m in asyncio.run(run())]

    def thread_per_call(self, calls: list[tuple[str, int]]) -> list[int]:
        async def run() -> list[int]:
            return await asyncio.gather(
                *(asyncio.to_thread(self._locked_generate, q, n) for q, n in calls)
            )

        return asyncio.run(run())

    def raw(self, calls: list[tuple[str, int]]) -> list[int]:
        prompts = [format_messages([HumanMessage(q)]) for q, _ in calls]
        tokenizer, model = self.engine.tokenizer, self.engine.model
        encoded = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
        with torch.inference_mode():
            out = model.generate(**encoded, **self._greedy(max(n for _, n in calls)))
        rows = out[:, encoded["input_ids"].shape[1] :].tolist()
        return [self._useful(row, n) for row, (_, n) in zip(rows, calls, strict=True)]

    def _locked_generate(self, question: str, budget: int) -> int:
        prompt = format_messages([HumanMessage(question)])
        encoded = self.engine.tokenizer([prompt], return_tensors="pt").to(self.engine.model.device)
        with self.lock, torch.inference_mode():
            out = self.engine.model.generate(**encoded, **self._greedy(budget))
        return self._useful(out[0, encoded["input_ids"].shape[1] :].tolist(), budget)

    def _greedy(self, budget: int) -> dict[str, Any]:
        return {
            "max_new_tokens": budget,
            "do_sample": False,
            "eos_token_id": sorted(self.engine.eos_ids),
            "pad_token_id": self.engine.tokenizer.pad_token_id,
        }

    def _useful(self, row: list[int], budget: int) -> int:
        for index, token in enumerate(row[:budget]):
            if token in self.engine.eos_ids:
                return index + 1
        return min(len(row), budget)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("tiny", "smollm2"), default="tiny")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sample", type=int, default=1, help="slow contenders: every k-th call")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        folder = model_folder(args.model, Path(scratch))
        chat = ChatZephyr(model=str(folder), temperature=0, backend_kwargs={"dtype": "float32"})
        results = measure(Contenders(chat, workload()), args)
    print(json.dumps(results["summary"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    sys.exit(0 if results["summary"]["met"] else 1)


def measure(contenders: Contenders, args: argparse.Namespace) -> dict[str, Any]:
    calls = contenders.calls
    sample = calls[:: args.sample]
    runs = {
        "continuous batching (64 x ainvoke)": (contenders.ours, calls),
        "raw batched generate (bound)": (contenders.raw, calls),
        f"sequential ainvoke ({len(sample)} calls)": (contenders.sequential, sample),
        f"thread-per-call, before ({len(sample)} calls)": (contenders.thread_per_call, sample),
    }
    for fn, subset in runs.values():  # warm-up, untimed
        fn(subset[:4])
    best: dict[str, float] = {}
    for repeat in range(args.repeats):
        for name, (fn, subset) in runs.items():
            started = time.perf_counter()
            tokens = sum(fn(subset))
            rate = tokens / (time.perf_counter() - started)
            best[name] = max(best.get(name, 0.0), rate)
            print(f"  repeat {repeat + 1}  {name:<44} {rate:9.1f} tokens/s", flush=True)
    ours, raw, seq, before = (best[name] for name in runs)
    summary = {
        "model": args.model,
        "torch_threads": torch.get_num_threads(),
        "tokens_per_s_best": {name: round(rate, 1) for name, rate in best.items()},
        "ours_over_raw": round(ours / raw, 2),
        "ours_over_sequential": round(ours / seq, 2),
        "ours_over_thread_per_call": round(ours / before, 2),
        "targets": {"ours_over_raw": f">= {TARGET_VS_RAW}", "ours_over_sequential": ">= 4"},
        "met": ours / raw >= TARGET_VS_RAW and ours / seq >= TARGET_VS_SEQUENTIAL,
    }
    return {"summary": summary}


if __name__ == "__main__":
    main()
