"""Constrained decoding on the Transformers backend: its cost per token, and grammar caching.

For each model (the tiny random Zephyr, and SmolLM2-135M-Instruct when installed):

1. library comparison, llguidance vs xgrammar: tokenizer set-up, first compile of a JSON schema,
   a compile served from cache, and the per-token cost of masking (advance the matcher, compute
   the allowed-token mask, apply it to the logits) replayed over the same valid token sequence;
2. end to end with the chosen library (llguidance, as ChatZephyr uses it): greedy generation
   with and without the grammar, side by side in alternating rounds, per generated token.
   Target: constrained <= 1.3x unconstrained per token;
3. caching: requests with one schema compile it once (``GrammarCache.compiled``).

    python benchmarks/constrained_decoding.py [--rounds 3] [--tokens 48]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from typing import Any

import torch

from zephyr_integrations.backends.base import GenerationParams, Grammar
from zephyr_integrations.backends.hf_engine import TransformersEngine
from zephyr_integrations.backends.hf_grammar import _SHIFTS
from zephyr_integrations.backends.transformers import TransformersBackend

TARGET = 1.3
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"const": "get_weather"},
        "arguments": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "maxLength": 48},
                "days": {"type": "integer"},
            },
            "required": ["city", "days"],
            "additionalProperties": False,
        },
    },
    "required": ["name", "arguments"],
    "additionalProperties": False,
}
PROMPT = "<|user|>\nWhat is the weather in Paris for 3 days?</s>\n<|assistant|>\n"
STEPS = 64
"""Mask steps replayed per library: greedy on fixed random scores, until the grammar ends."""


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def compare_libraries(engine: TransformersEngine) -> dict[str, dict[str, float]]:
    import llguidance
    import llguidance.hf
    import xgrammar as xgr

    tokenizer: Any = engine.tokenizer
    vocab = int(engine.model.get_output_embeddings().weight.shape[0])
    scores = torch.randn((1, vocab), generator=torch.Generator().manual_seed(0))
    text = json.dumps(SCHEMA)
    figures: dict[str, dict[str, float]] = {}

    start = time.perf_counter()
    lltok = llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    grammar = llguidance.LLMatcher.grammar_from_json_schema(text, {"whitespace_flexible": False})
    pristine = llguidance.LLMatcher(lltok, grammar)
    first = time.perf_counter() - start
    start = time.perf_counter()
    matcher = pristine.deep_copy()
    cached = time.perf_counter() - start
    mask = torch.full((1, (vocab + 31) // 32), -1, dtype=torch.int32)
    steps, start = 0, time.perf_counter()
    while steps < STEPS and not matcher.is_stopped():
        matcher.unsafe_compute_mask_ptr(mask.data_ptr(), mask.numel() * 4)
        allowed = ((mask.unsqueeze(-1) >> _SHIFTS) & 1).view(1, -1)[:, :vocab].bool()
        token = int(scores.masked_fill(~allowed, float("-inf")).argmax())
        assert matcher.consume_token(token), "llguidance refused its own token"
        steps += 1
    per_token = (time.perf_counter() - start) / max(steps, 1)
    figures["llguidance"] = {"setup": setup, "first": first, "cached": cached, "mask": per_token}

    start = time.perf_counter()
    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab)
    compiler = xgr.GrammarCompiler(info)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    compiled = compiler.compile_json_schema(text, any_whitespace=False)
    first = time.perf_counter() - start
    start = time.perf_counter()
    compiled = compiler.compile_json_schema(text, any_whitespace=False)
    cached = time.perf_counter() - start
    xmatcher = xgr.GrammarMatcher(compiled)
    bitmask = xgr.allocate_token_bitmask(1, vocab)
    steps, start = 0, time.perf_counter()
    while steps < STEPS and not xmatcher.is_terminated():
        xmatcher.fill_next_token_bitmask(bitmask)
        masked = scores.clone()
        xgr.apply_token_bitmask_inplace(masked, bitmask)
        token = int(masked.argmax())
        if not xmatcher.accept_token(token):
            break  # a stop token
        steps += 1
    per_token = (time.perf_counter() - start) / max(steps, 1)
    figures["xgrammar"] = {"setup": setup, "first": first, "cached": cached, "mask": per_token}
    return figures


def end_to_end(engine: TransformersEngine, rounds: int, tokens: int) -> tuple[float, float]:
    """Median per-token seconds (unconstrained, constrained), alternating runs."""
    grammar = Grammar.json_schema(SCHEMA)
    plain = GenerationParams(max_new_tokens=tokens)
    constrained = GenerationParams(max_new_tokens=tokens, grammar=grammar)
    engine.run([PROMPT], constrained)  # warm-up (and the one compile)
    engine.run([PROMPT], plain)
    times: dict[str, list[float]] = {"plain": [], "constrained": []}
    for _ in range(rounds):
        for name, params in (("plain", plain), ("constrained", constrained)):
            start = time.perf_counter()
            generation = engine.run([PROMPT], params)[0]
            times[name].append((time.perf_counter() - start) / generation.completion_tokens)
    return statistics.median(times["plain"]), statistics.median(times["constrained"])


def bench(label: str, path: str, rounds: int, tokens: int) -> bool:
    engine = TransformersBackend(path, dtype="float32").engine
    print(f"\n== {label} ==")
    for library, f in compare_libraries(engine).items():
        print(
            f"{library:>10}: tokenizer set-up {_ms(f['setup'])}, first compile "
            f"{_ms(f['first'])}, cached {_ms(f['cached'])}, mask per token {_ms(f['mask'])}"
        )
    plain, constrained = end_to_end(engine, rounds, tokens)
    ratio = constrained / plain
    compiled_before = engine.grammars.compiled
    again = GenerationParams(max_new_tokens=4, grammar=Grammar.json_schema(dict(SCHEMA)))
    for _ in range(5):
        engine.run([PROMPT], again)
    more = engine.grammars.compiled - compiled_before
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(
        f"per token: unconstrained {_ms(plain)}, constrained {_ms(constrained)} -> "
        f"{ratio:.2f}x (target <= {TARGET}x) {verdict}"
    )
    print(
        f"grammar cache: {compiled_before} compile(s), then 5 more requests compiled {more}"
        f" -> {'PASS' if more == 0 else 'FAIL'}"
    )
    return ratio <= TARGET and more == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=48)
    args = parser.parse_args()
    from zephyr_integrations.testing import make_tiny_zephyr

    torch.set_num_threads(1)  # steadier ratios on a shared machine
    results = []
    with tempfile.TemporaryDirectory() as folder:
        results.append(
            bench("tiny Zephyr", str(make_tiny_zephyr(folder)), args.rounds, args.tokens)
        )
    try:
        from zephyr_integrations.local_models import smollm2_folder

        smol = str(smollm2_folder())
    except Exception as exc:  # not installed: reported, not failed
        print(f"\n== SmolLM2-135M-Instruct: skipped ({exc}) ==")
    else:
        results.append(bench("SmolLM2-135M-Instruct", smol, args.rounds, args.tokens))
    print("\nOVERALL:", "PASS" if all(results) else "FAIL")


if __name__ == "__main__":
    main()
