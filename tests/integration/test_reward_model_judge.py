"""The reward-model judge on a tiny random reward model built offline: every (conversation,
answer) pair formatted with the model's own chat template, scored in right-padded batches that
match an unpadded pass per pair, one forward pass per batch, off the event loop; and its scores
carry an unbounded scale through ``from_candidates`` and binarizing into pairs."""

from __future__ import annotations

import asyncio
import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zephyr_integrations.preferences.binarize import binarize
from zephyr_integrations.preferences.feedback import judge as run_judge
from zephyr_integrations.preferences.judges.reward_model import (
    RewardModelError,
    RewardModelJudge,
    reward_model_judge,
)
from zephyr_integrations.preferences.judging import Judge, Verdict
from zephyr_integrations.preferences.records import CandidateRow, from_candidates, prompt_id
from zephyr_integrations.testing.tiny_reward_model import make_tiny_reward_model

WORDS = "the answer is a helpful honest reply about weather in paris and london".split()


@pytest.fixture(scope="module")
def reward_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_reward_model(tmp_path_factory.mktemp("tiny-rm"))


def candidates(prompts: int, answers: int) -> list[list[CandidateRow]]:
    """``answers`` answers of different lengths to each of ``prompts`` prompts (some two-turn)."""
    groups = []
    for p in range(prompts):
        prompt = f"question {p}: " + " ".join(WORDS[: 3 + p % 7])
        messages: list[Any] = [{"role": "user", "content": prompt}]
        if p % 3 == 0:
            messages = [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hello"},
                {"role": "assistant", "content": "hello, how can I help?"},
                *messages,
            ]
        groups.append(
            [
                CandidateRow(
                    prompt_id=prompt_id(prompt),
                    prompt=prompt,
                    messages=messages,
                    model=f"m{a}",
                    sample=0,
                    response=" ".join(WORDS[: 1 + (p * 5 + a * 3) % len(WORDS)]),
                    params={},
                    usage=None,
                    finish_reason="stop",
                )
                for a in range(answers)
            ]
        )
    return groups


def unbatched_reward(judge: RewardModelJudge, row: CandidateRow) -> float:
    """The reference: one pair alone, no padding, no attention mask."""
    import torch

    ids = torch.tensor([judge.encode(row)])
    with torch.inference_mode():
        return float(judge.model(input_ids=ids).logits[0, 0])


@pytest.fixture
def passes(reward_model: Path) -> Iterator[tuple[RewardModelJudge, list[tuple[int, int, str]]]]:
    """A judge (batch size 32) whose forward passes are recorded: (batch, width, thread)."""
    judge = RewardModelJudge(reward_model, batch_size=32, device="cpu")
    seen: list[tuple[int, int, str]] = []

    def record(module: Any, args: Any, kwargs: dict[str, Any], output: Any) -> None:
        batch, width = kwargs["input_ids"].shape
        seen.append((batch, width, threading.current_thread().name))

    handle = judge.model.register_forward_hook(record, with_kwargs=True)
    yield judge, seen
    handle.remove()


def test_it_is_a_judge_with_an_unbounded_scale_naming_the_model(reward_model: Path) -> None:
    judge = reward_model_judge(str(reward_model), batch_size="8", device="cpu")
    assert isinstance(judge, Judge)
    assert judge.name == str(reward_model)
    assert judge.prompts_per_call == 4 * 8 and not judge.compares
    assert judge.scale["low"] is None and judge.scale["high"] is None
    assert str(reward_model) in judge.scale["meaning"]
    json.dumps(judge.scale, allow_nan=False)  # JSON has no infinity: open bounds are null
    assert RewardModelJudge(reward_model, label="tiny-rm").name == "tiny-rm"


def test_pairs_are_formatted_with_the_models_own_chat_template(reward_model: Path) -> None:
    judge = RewardModelJudge(reward_model, device="cpu")
    row = candidates(1, 1)[0][0]
    text = judge.tokenizer.decode(judge.encode(row))
    # the tiny model ships Zephyr's template: the answer is the last, closed assistant turn
    assert text.startswith("<|user|>\n" + row["prompt"]) or text.startswith("<|system|>")
    assert text.rstrip().endswith("<|assistant|>\n" + row["response"] + "</s>")


def test_batched_rewards_match_an_unpadded_pass_per_pair_and_repeat(reward_model: Path) -> None:
    groups = candidates(6, 4)
    judge = RewardModelJudge(reward_model, batch_size=5, device="cpu")
    verdicts = asyncio.run(judge.ajudge(groups))
    assert [len(v) for v in verdicts] == [4] * 6
    for rows, got in zip(groups, verdicts, strict=True):
        for row, verdict in zip(rows, got, strict=True):
            assert verdict.error is None and verdict.ratings is None
            assert verdict.score == pytest.approx(unbatched_reward(judge, row), abs=1e-4)
    scores = [v.score for group in verdicts for v in group]
    assert len(set(scores)) == len(scores)  # every pair scored on its own, none mixed up
    spread = max(s for s in scores if s is not None) - min(s for s in scores if s is not None)
    assert spread > 0.1  # the tiny model's rewards differ visibly, so the checks above bite
    reloaded = RewardModelJudge(reward_model, batch_size=5, device="cpu")
    assert asyncio.run(reloaded.ajudge(groups)) == verdicts  # deterministic
    other = RewardModelJudge(reward_model, batch_size=3, device="cpu")
    regrouped = [v.score for group in asyncio.run(other.ajudge(groups)) for v in group]
    assert regrouped == pytest.approx(scores, abs=1e-4)  # other batches pad otherwise: float noise


def test_64_prompts_x_4_answers_take_one_padded_pass_per_batch(
    passes: tuple[RewardModelJudge, list[tuple[int, int, str]]],
) -> None:
    judge, seen = passes
    groups = candidates(64, 4)
    verdicts = asyncio.run(judge.ajudge(groups))
    assert sum(len(v) for v in verdicts) == 256
    assert all(v.score is not None for group in verdicts for v in group)
    assert len(seen) == math.ceil(256 / judge.batch_size) == 8
    assert [batch for batch, _, _ in seen] == [32] * 8
    longest = max(len(judge.encode(row)) for rows in groups for row in rows)
    assert seen[0][1] == longest  # padded to the longest pair of its batch (sorted: the first)
    assert sorted((w for _, w, _ in seen), reverse=True) == [w for _, w, _ in seen]
    main = threading.main_thread().name
    assert all(thread != main for _, _, thread in seen)  # off the event loop's thread


def test_a_pair_longer_than_max_length_gets_an_error_not_a_score(reward_model: Path) -> None:
    judge = RewardModelJudge(reward_model, device="cpu", max_length=100)
    short, long = candidates(1, 2)[0]
    long = CandidateRow(**{**long, "response": " ".join(WORDS * 10)})  # type: ignore[typeddict-item]
    (verdicts,) = asyncio.run(judge.ajudge([[short, long]]))
    assert verdicts[0].score is not None
    assert verdicts[1] == Verdict(None, error=verdicts[1].error)
    assert verdicts[1].error is not None and "over its limit of 100" in verdicts[1].error


def test_rewards_flow_through_the_runner_into_rows_then_pairs(
    passes: tuple[RewardModelJudge, list[tuple[int, int, str]]], tmp_path: Path
) -> None:
    judge, seen = passes
    groups = candidates(64, 4)
    rows = [row for group in groups for row in group]
    report = run_judge(rows, judge, tmp_path / "judged.jsonl", concurrency=4)
    assert report.failures == [] and report.rated == 256
    assert len(seen) == 8 and [batch for batch, _, _ in seen] == [32] * 8  # 2 calls, 4 full passes
    judged = [json.loads(line) for line in (tmp_path / "judged.jsonl").read_text().splitlines()]
    assert all(row["judge"] == str(judge.name) and row["scale"] == judge.scale for row in judged)
    assert all("ratings" not in row and isinstance(row["score"], float) for row in judged)
    reference = {(r["prompt_id"], r["model"]): unbatched_reward(judge, r) for r in rows[:8]}
    for row in judged:
        if (row["prompt_id"], row["model"]) in reference:
            assert row["score"] == pytest.approx(
                reference[row["prompt_id"], row["model"]], abs=1e-4
            )
    preference_rows = from_candidates(judged)
    assert len(preference_rows) == 64
    assert all(row["scale"] == judge.scale for row in preference_rows)
    result = binarize(preference_rows)
    assert result.dropped == {} and result.pairs.num_rows == 64
    by_answer = {(r["prompt_id"], r["model"]): r["score"] for r in judged}
    for pair in result.pairs.to_pylist():
        best = max(by_answer[pair["prompt_id"], f"m{k}"] for k in range(4))
        assert pair["score_chosen"] == best == by_answer[pair["prompt_id"], pair["chosen_model"]]
        assert pair["score_chosen"] > pair["score_rejected"]
    (scale,) = result.summary()["scales"]
    assert (scale["low"], scale["high"]) == (None, None)


def test_zephyr_judge_with_the_reward_model_on_the_command_line(
    reward_model: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from zephyr_integrations.cli import app

    source = tmp_path / "candidates.jsonl"
    rows = [row for group in candidates(3, 2) for row in group]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "judged.jsonl"
    args = ["judge", str(source), "--judge", "reward-model", "-m", str(reward_model)]
    args += ["-O", "batch_size=4", "-O", "device=cpu", "-o", str(out), "--no-progress"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert f"6 candidates rated by {reward_model}" in result.output
    judged = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(judged) == 6 and all(row["scale"]["low"] is None for row in judged)
    bare = make_tiny_reward_model(tmp_path / "bare", chat_template=False)
    args[5] = str(bare)
    args[-2] = str(tmp_path / "bare.jsonl")
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"error: reward model {bare} has no chat template")
    assert "-O chat_template=" in line
    assert not (tmp_path / "bare.jsonl").exists()  # nothing half-written


def test_a_model_without_a_chat_template_is_refused_naming_it_and_the_fix(
    tmp_path: Path, official_template: str
) -> None:
    bare = make_tiny_reward_model(tmp_path / "no-template", chat_template=False)
    with pytest.raises(RewardModelError) as caught:
        RewardModelJudge(bare, device="cpu")
    message = str(caught.value)
    assert "\n" not in message
    assert str(bare) in message and "no chat template" in message
    assert "chat_template" in message  # the fix: the option to pass
    # the fix works: a template as text, as a file, or from a model whose tokenizer has one
    (tmp_path / "t.jinja").write_text(official_template, encoding="utf-8")
    rows = candidates(1, 2)
    expected = asyncio.run(RewardModelJudge(bare, chat_template=official_template).ajudge(rows))
    assert expected[0][0].score is not None
    from_file = RewardModelJudge(bare, chat_template=str(tmp_path / "t.jinja"))
    assert asyncio.run(from_file.ajudge(rows)) == expected
    other = make_tiny_reward_model(tmp_path / "with-template")
    assert asyncio.run(RewardModelJudge(bare, chat_template=str(other)).ajudge(rows)) == expected


def test_models_that_are_not_one_label_classifiers_are_refused(
    tmp_path: Path, tiny_model_path: Path
) -> None:
    with pytest.raises(RewardModelError, match="num_labels=2"):
        RewardModelJudge(make_tiny_reward_model(tmp_path / "two", num_labels=2))
    with pytest.raises(RewardModelError, match="MistralForCausalLM, not a sequence classifier"):
        RewardModelJudge(tiny_model_path)
    with pytest.raises(RewardModelError, match="cannot load it"):
        RewardModelJudge(tmp_path / "missing")
    with pytest.raises(RewardModelError, match="batch_size must be 1 or more"):
        RewardModelJudge(tiny_model_path, batch_size=0)


def test_bad_devices_and_dtypes_are_one_line(reward_model: Path) -> None:
    import torch

    with pytest.raises(RewardModelError, match="unknown dtype 'float17'"):
        RewardModelJudge(reward_model, dtype="float17")
    with pytest.raises(RewardModelError, match="unknown device 'gpu7'"):
        RewardModelJudge(reward_model, device="gpu7")
    if not torch.cuda.is_available():
        with pytest.raises(RewardModelError, match="cannot run on cuda"):
            RewardModelJudge(reward_model, device="cuda")
    assert RewardModelJudge(reward_model, dtype="bfloat16").model.dtype == torch.bfloat16


def test_the_judge_registers_as_reward_model(reward_model: Path) -> None:
    from zephyr_integrations.plugins import get_judge_factory

    judge = get_judge_factory("reward-model")(str(reward_model), device="cpu", batch_size="4")
    assert isinstance(judge, RewardModelJudge) and judge.batch_size == 4
    with pytest.raises(RewardModelError, match="takes a Hub id or a folder"):
        get_judge_factory("reward-model")(object())
