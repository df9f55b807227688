"""What transformers' own continuous batching serves here, measured (issue 16).

Runs ``model.generate_batch`` and ``model.init_continuous_batching()`` (transformers 5.x's
``ContinuousBatchingManager``) on the tiny offline model on this machine's device and checks,
one by one, what ChatZephyr needs from a continuous-batching engine:

* runs at all on this device; greedy fp32 output equal to one-by-one ``generate``;
* greedy and sampled requests in one running batch;
* per-request temperature / top_p / top_k; per-request seed; repetition penalty per row;
* stop strings; a per-row logits mask (llguidance grammars) that knows which request a row is;
* streaming; cancellation;
* throughput of ``generate_batch`` against one raw padded ``generate`` of the same prompts.

Each line prints ``yes``/``no`` with what was observed. The findings are why
``zephyr_integrations.backends.hf_scheduler`` exists (see README, "Continuous batching").

Usage::

    python benchmarks/hf_continuous_batching_probe.py [--json probe.json]
"""

from __future__ import annotations

import argparse
import inspect
import json
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from zephyr_integrations import format_messages
from zephyr_integrations.testing import make_tiny_zephyr

PROMPTS = [
    format_messages([("user", f"Question {i}: {'tell me more ' * (i % 5)}")]) for i in range(16)
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as scratch:
        folder = make_tiny_zephyr(Path(scratch) / "tiny")
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        findings = probe(model, tokenizer)
    width = max(len(name) for name in findings)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, {model.device}")
    for name, (ok, seen) in findings.items():
        print(f"{name:<{width}}  {'yes' if ok else 'no ':<3}  {seen}")
    if args.json:
        payload = {name: {"serves": ok, "observed": seen} for name, (ok, seen) in findings.items()}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def probe(model: Any, tokenizer: Any) -> dict[str, tuple[bool, str]]:
    ids = [tokenizer(p)["input_ids"] for p in PROMPTS]
    greedy = GenerationConfig(
        max_new_tokens=24, do_sample=False, eos_token_id=2, pad_token_id=2, bos_token_id=1
    )
    found: dict[str, tuple[bool, str]] = {}

    def attempt(name: str, check: Any) -> None:
        try:
            found[name] = check()
        except Exception as exc:  # a failure is a finding
            found[name] = (False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
            traceback.print_exc(limit=2)

    outputs: dict[str, Any] = {}

    def runs() -> tuple[bool, str]:
        started = time.perf_counter()
        outputs.update(model.generate_batch(ids, generation_config=greedy, progress_bar=False))
        took = time.perf_counter() - started
        seen = f"{len(outputs)} results in {took:.2f} s with the default (auto-sized) cache"
        return len(outputs) == len(ids), seen

    def equal() -> tuple[bool, str]:
        same = 0
        for prompt in ids:
            single = model.generate(
                torch.tensor([prompt]), generation_config=greedy, attention_mask=None
            )[0, len(prompt) :].tolist()
            got = next(o for o in outputs.values() if o.prompt_ids == prompt).generated_tokens
            same += got == single
        return same == len(ids), f"{same}/{len(ids)} equal to one-by-one generate"

    def throughput() -> tuple[bool, str]:
        batch = tokenizer(PROMPTS, return_tensors="pt", padding=True)
        started = time.perf_counter()
        model.generate(**batch, generation_config=greedy)
        raw = time.perf_counter() - started
        from transformers import ContinuousBatchingConfig

        small = ContinuousBatchingConfig(num_blocks=32, max_batch_tokens=512, page_size=64)
        started = time.perf_counter()
        model.generate_batch(ids, generation_config=greedy, continuous_batching_config=small)
        cb = time.perf_counter() - started
        seen = f"generate_batch {cb:.2f} s (cache sized by hand) vs raw padded generate {raw:.2f} s"
        return cb <= raw / 0.8, seen

    add_request = inspect.signature(transformers.generation.ContinuousBatchingManager.add_request)

    def api(name: str) -> tuple[bool, str]:
        return name in add_request.parameters, f"add_request{add_request}"

    attempt("runs on this device", runs)
    attempt("greedy fp32 == one-by-one", equal)
    attempt("throughput >= 0.8x raw generate", throughput)
    found["greedy and sampled rows mixed"] = (
        False,
        "do_sample is read once from the manager's GenerationConfig (one sampler for all rows)",
    )
    attempt("per-request temperature/top_p/top_k", lambda: per_request_sampling(model, ids))
    found["per-request seed"] = (
        False,
        "ContinuousBatchingConfig.seed is one seed for the manager; rows share one RNG",
    )
    found["repetition penalty per row"] = (
        False,
        "custom logits processors receive only each row's current token, not its history",
    )
    found["per-row grammar mask (llguidance)"] = (
        False,
        "processors see rows of a flat ragged batch with no request id: no per-request state",
    )
    attempt("stop strings", lambda: api("stop_strings"))
    attempt("streaming", lambda: api("streaming"))
    found["cancellation"] = (
        hasattr(transformers.generation.ContinuousBatchingManager, "cancel_request"),
        "ContinuousBatchingManager.cancel_request(request_id)",
    )
    return found


def per_request_sampling(model: Any, ids: list[list[int]]) -> tuple[bool, str]:
    from transformers import ContinuousBatchingConfig

    config = GenerationConfig(
        max_new_tokens=8, do_sample=True, temperature=0.7, top_p=0.9, top_k=50, eos_token_id=2
    )
    manager = model.init_continuous_batching(
        generation_config=config,
        continuous_batching_config=ContinuousBatchingConfig(per_request_processors=True),
    )
    manager.start()
    try:
        request = manager.add_request(ids[0], temperature=1.3, top_p=0.5, top_k=5)
        result = manager.get_result(request_id=request, timeout=60)
    finally:
        manager.stop(block=True, timeout=30)
    ok = result is not None and result.error is None
    return ok, "only with per_request_processors=True and the three set on the manager's config"


if __name__ == "__main__":
    main()
