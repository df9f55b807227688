"""Decode speed on a CUDA device, Zephyr-sized (issue 16, acceptance 5).

Builds a Mistral-7B-shaped model (Zephyr-7B's architecture) with random weights, offline, right
on the device, and measures:

* single-request decode tokens/s against the memory-bandwidth bound (weight bytes / HBM
  bandwidth: every decode step reads every weight once), with ``generate`` on a dynamic cache and
  on a static cache under ``torch.compile`` (where it helps);
* throughput (tokens/s) at 1, 8, 32 and 128 concurrent requests through the project's
  continuously batched engine, next to one raw padded ``generate`` of the same requests;

in bf16 with SDPA attention. ``--shape tiny --device cpu`` runs the same code on a tiny model
(a smoke test of the script; its figures mean nothing).

Usage::

    python benchmarks/gpu_decode.py --json gpu.json                 # H100/H200/A100/L4/A10...
    python benchmarks/gpu_decode.py --hbm-gbps 3350 --compile       # name the bandwidth
    python benchmarks/gpu_decode.py --shape tiny --device cpu --concurrency 1,4
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from transformers import MistralConfig, MistralForCausalLM

from zephyr_integrations.backends.base import GenerationParams
from zephyr_integrations.backends.hf_engine import TransformersEngine
from zephyr_integrations.backends.hf_limits import BatchLimits

SHAPES = {
    # zephyr-7b-beta's config.json (Mistral-7B-v0.1)
    "mistral-7b": {
        "vocab_size": 32000,
        "hidden_size": 4096,
        "intermediate_size": 14336,
        "num_hidden_layers": 32,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "max_position_embeddings": 32768,
        "sliding_window": 4096,
    },
    "tiny": {
        "vocab_size": 1024,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "sliding_window": None,
    },
}
HBM_GBPS = {  # peak memory bandwidth by device name (GB/s); --hbm-gbps overrides
    "H200": 4800,
    "H100 SXM": 3350,
    "H100 NVL": 3900,
    "H100 PCIe": 2000,
    "H100": 3350,
    "A100-SXM4-80GB": 2039,
    "A100 80GB PCIe": 1935,
    "A100": 1555,
    "L40S": 864,
    "L4": 300,
    "A10": 600,
    "RTX 4090": 1008,
}
PROMPT = "<|user|>\nWrite a long story about a lighthouse keeper.</s>\n<|assistant|>\n"


def build(shape: str, device: str, dtype: torch.dtype) -> tuple[Any, Any]:
    from transformers import AutoTokenizer

    from zephyr_integrations.testing import make_tiny_zephyr

    with tempfile.TemporaryDirectory() as scratch:
        tokenizer = AutoTokenizer.from_pretrained(make_tiny_zephyr(Path(scratch) / "tok"))
    config = MistralConfig(**SHAPES[shape], bos_token_id=1, eos_token_id=2, pad_token_id=2)
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device(device):
        model = MistralForCausalLM(config).to(dtype).eval()
    return model, tokenizer


def bandwidth(device: str, override: float | None) -> float | None:
    if override:
        return override
    if not device.startswith("cuda"):
        return None
    name = torch.cuda.get_device_name(device)
    return next((gbps for key, gbps in HBM_GBPS.items() if key in name), None)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def raw_decode(model: Any, tokenizer: Any, rows: int, tokens: int, **options: Any) -> float:
    """Tokens/s of one padded ``generate`` of ``rows`` prompts, ``tokens`` each (no EOS)."""
    encoded = tokenizer([PROMPT] * rows, return_tensors="pt").to(model.device)
    settings = {"max_new_tokens": tokens, "min_new_tokens": tokens, "do_sample": False}
    with torch.inference_mode():
        model.generate(**encoded, **settings, **options)  # warm-up (and compile)
        sync(str(model.device))
        started = time.perf_counter()
        model.generate(**encoded, **settings, **options)
        sync(str(model.device))
    return rows * tokens / (time.perf_counter() - started)


def engine_decode(engine: TransformersEngine, rows: int, tokens: int) -> float:
    """Tokens/s of ``rows`` concurrent requests through the continuously batched engine."""
    params = GenerationParams(max_new_tokens=tokens)
    engine.run([PROMPT] * rows, GenerationParams(max_new_tokens=4))  # warm-up
    started = time.perf_counter()
    generations = engine.run([PROMPT] * rows, params)
    sync(str(engine.model.device))
    elapsed = time.perf_counter() - started
    return sum(g.completion_tokens for g in generations) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="mistral-7b")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", choices=("bfloat16", "float16", "float32"), default="bfloat16")
    parser.add_argument("--concurrency", default="1,8,32,128")
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--hbm-gbps", type=float, default=None)
    parser.add_argument("--compile", action="store_true", help="also static cache + compile")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: this benchmark is for a GPU machine")
    model, tokenizer = build(args.shape, args.device, getattr(torch, args.dtype))
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    gbps = bandwidth(args.device, args.hbm_gbps)
    bound = gbps * 1e9 / weight_bytes if gbps else None
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(args.device) if args.device != "cpu" else "cpu",
        "shape": args.shape,
        "dtype": args.dtype,
        "weights_gb": round(weight_bytes / 1e9, 2),
        "hbm_gbps": gbps,
        "bandwidth_bound_tokens_per_s": None if bound is None else round(bound, 1),
    }
    single = raw_decode(model, tokenizer, 1, args.new_tokens)
    report["single_request_generate_tokens_per_s"] = round(single, 1)
    if bound:
        report["single_request_fraction_of_bound"] = round(single / bound, 3)
    if args.compile:
        try:
            compiled = raw_decode(
                model, tokenizer, 1, args.new_tokens, cache_implementation="static"
            )
            report["single_request_static_compiled_tokens_per_s"] = round(compiled, 1)
        except Exception as exc:  # recorded, not fatal: the other figures still count
            report["single_request_static_compiled_error"] = f"{type(exc).__name__}: {exc}"
    limits = BatchLimits(max_batch_size=max(int(c) for c in args.concurrency.split(",")))
    engine = TransformersEngine(
        model, tokenizer, f"random-{args.shape}", frozenset(), (), None, limits
    )
    throughput = {}
    for rows in (int(c) for c in args.concurrency.split(",")):
        throughput[rows] = {
            "engine_tokens_per_s": round(engine_decode(engine, rows, args.new_tokens), 1),
            "raw_generate_tokens_per_s": round(
                raw_decode(model, tokenizer, rows, args.new_tokens), 1
            ),
        }
        print(f"  {rows:>4} concurrent: {throughput[rows]}", flush=True)
    report["throughput_by_concurrency"] = throughput
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
