"""Answers scored per second: the ``reward-model`` judge against the LLM judge (issue 17, speed).

The same candidate rows (64 prompts x 4 answers of 20-60 words) are judged in one run by:

- the ``reward-model`` judge through the judge runner (``judge()``: reading, batching, the
  checkpoint file), on the tiny random reward model and on a real-size one: SmolLM2-135M's
  weights under a randomly initialised one-label score head (real compute, noise scores);
- the floor of each reward model: its padded forward passes alone on the same pairs, already
  tokenized and sorted by length over the whole set (what the judge costs beyond the model),
  interleaved with the judge's runs, the best of each kept;
- the LLM judge (``ultrafeedback``: UltraFeedback's four aspects with rationales, one answer per
  call) on SmolLM2-135M-Instruct, on the first ``--llm-answers`` rows only (default 4: it
  writes a rationale per aspect, minutes per answer on a loaded 2-core machine).

Usage::

    python benchmarks/reward_model.py                      # tiny and SmolLM2 RMs, 4 LLM answers
    python benchmarks/reward_model.py --reward-models tiny --llm-answers 0 --threads 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from zephyr_integrations.preferences.feedback import judge
from zephyr_integrations.preferences.judges.reward_model import RewardModelJudge
from zephyr_integrations.preferences.records import CandidateRow, prompt_id

PROMPTS = 64
ANSWERS = 4
TOPICS = ("rivers", "volcanoes", "bees", "bridges", "comets", "forests", "tides", "deserts")
WORDS = (
    "the a of to in and is are was it that this with for on as by from water light energy "
    "small large often because which many most people known form forms over time under "
    "heat cold fast slow high low near far world earth sun moon air ground plants animals"
).split()


def rows() -> list[CandidateRow]:
    rng = random.Random(17)
    out = []
    for p in range(PROMPTS):
        prompt = f"Tell me fact number {p} about {TOPICS[p % len(TOPICS)]}."
        for a in range(ANSWERS):
            answer = " ".join(rng.choices(WORDS, k=rng.randint(20, 60))).capitalize() + "."
            out.append(
                CandidateRow(
                    prompt_id=prompt_id(prompt),
                    prompt=prompt,
                    messages=[{"role": "user", "content": prompt}],
                    model=f"model-{a}",
                    sample=0,
                    response=answer,
                    params={},
                    usage=None,
                    finish_reason="stop",
                )
            )
    return out


def reward_model_folder(kind: str, scratch: Path) -> Path:
    if kind == "tiny":
        from zephyr_integrations.testing.tiny_reward_model import make_tiny_reward_model

        return make_tiny_reward_model(scratch / "tiny-rm")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from zephyr_integrations.local_models import smollm2_folder

    source = smollm2_folder()
    target = scratch / "smollm2-rm"
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def rate(seconds: float, answers: int) -> float:
    """Answers per second, to three significant figures (an LLM judge's is well under 1)."""
    return float(f"{answers / seconds:.3g}")


def reward_model_side(
    kind: str, candidates: list[CandidateRow], scratch: Path, repeats: int
) -> dict[str, Any]:
    """The judge and the forward-only floor, interleaved ``repeats`` times; the best of each
    (the first passes over fresh weights run slow, and other work comes and goes)."""
    scorer = RewardModelJudge(reward_model_folder(kind, scratch), batch_size=32, device="cpu")
    encoded = sorted((scorer.encode(row) for row in candidates), key=len, reverse=True)
    judged: list[float] = []
    floor: list[float] = []
    for attempt in range(repeats):
        started = time.perf_counter()
        asyncio.run(_forward_only(scorer, encoded))
        floor.append(time.perf_counter() - started)
        started = time.perf_counter()
        out = scratch / f"judged-{kind}-{attempt}.jsonl"
        report = judge(candidates, scorer, out, concurrency=2)
        judged.append(time.perf_counter() - started)
        assert report.rated == len(candidates), report.failures
    judged_s, floor_s = min(judged), min(floor)
    return {
        "judge_answers_per_s": rate(judged_s, len(candidates)),
        "forward_only_answers_per_s": rate(floor_s, len(candidates)),
        "judge_over_forward_only": round(floor_s / judged_s, 2),
        "seconds": {
            "judge": [round(x, 2) for x in judged],
            "forward_only": [round(x, 2) for x in floor],
        },
        "mean_tokens_per_pair": round(sum(map(len, encoded)) / len(encoded), 1),
    }


async def _forward_only(scorer: RewardModelJudge, encoded: list[list[int]]) -> None:
    """The same padded passes, in a worker thread as the judge runs them (torch in the main
    thread runs at another speed here)."""
    for start in range(0, len(encoded), scorer.batch_size):
        await asyncio.to_thread(scorer.rewards, encoded[start : start + scorer.batch_size])


def llm_side(candidates: list[CandidateRow], scratch: Path) -> dict[str, Any]:
    from zephyr_integrations import ChatZephyr
    from zephyr_integrations.local_models import smollm2_folder

    chat = ChatZephyr(model=str(smollm2_folder()), temperature=0)
    chat.invoke("warm up", max_tokens=2)
    started = time.perf_counter()
    report = judge(candidates, chat, scratch / "judged-llm.jsonl", concurrency=len(candidates))
    seconds = time.perf_counter() - started
    return {
        "answers": len(candidates),
        "parsed": report.rated,
        "judge_answers_per_s": rate(seconds, len(candidates)),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reward-models", default="tiny,smollm2", help="tiny, smollm2 or both")
    parser.add_argument("--llm-answers", type=int, default=4, help="0: skip the LLM judge")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved runs; best kept")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    candidates = rows()
    results: dict[str, Any] = {
        "rows": f"{PROMPTS} prompts x {ANSWERS} answers",
        "torch_threads": torch.get_num_threads(),
    }
    kinds = [kind for kind in args.reward_models.split(",") if kind]
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        for kind in kinds:
            side = reward_model_side(kind, candidates, scratch, args.repeats)
            results[f"reward_model_{kind}"] = side
            print(json.dumps({kind: results[f"reward_model_{kind}"]}), file=sys.stderr)
        if args.llm_answers:
            results["llm_judge_smollm2"] = llm_side(candidates[: args.llm_answers], scratch)
    if "llm_judge_smollm2" in results:
        llm = results["llm_judge_smollm2"]["judge_answers_per_s"]
        for kind in kinds:
            ours = results[f"reward_model_{kind}"]["judge_answers_per_s"]
            results[f"reward_model_{kind}_over_llm_judge"] = float(f"{ours / llm:.3g}")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
