"""The judge seam: the runner drives any Judge; the comparative judge shuffles and maps back."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from langchain_core.language_models import FakeListChatModel

from tests.unit.test_feedback import candidate, rows
from tests.unit.test_feedback_fakes import RuleJudge, SideBySideJudge
from zephyr_integrations.preferences.binarize import BinarizeOptions, binarize
from zephyr_integrations.preferences.feedback import JudgeError, ajudge, as_judge
from zephyr_integrations.preferences.judges.comparative import (
    ComparativeJudge,
    comparative_max_tokens,
    ratings_schema,
    shown_order,
)
from zephyr_integrations.preferences.judging import Judge, Verdict
from zephyr_integrations.preferences.records import (
    ULTRAFEEDBACK_ASPECTS,
    CandidateRow,
    ScoreScale,
    from_candidates,
)
from zephyr_integrations.preferences.rubric import MAX_RATIONALE

ANSWERS = ["first plain answer", "second plain answer", "third is the BEST one", "fourth plain"]


def four(prompt: str, answers: Sequence[str] = ANSWERS) -> list[CandidateRow]:
    return [candidate(prompt, text, sample=index) for index, text in enumerate(answers)]


async def test_comparative_ratings_land_on_the_answers_they_rate(tmp_path: Path) -> None:
    model = SideBySideJudge()
    report = await ajudge(four("Q1") + four("Q2"), ComparativeJudge(model, seed=1), tmp_path / "j")
    assert (report.rated, report.failures, report.judge) == (8, [], "side-by-side-1")
    assert len(model.shown) == 8  # one call per aspect per prompt
    tools = [
        f"{''.join(p.capitalize() for p in a.split('_'))}Ratings" for a in ULTRAFEEDBACK_ASPECTS
    ]
    assert sorted(tool for tool, _ in model.shown) == sorted(tools * 2)
    orders = {tuple(shown) for _, shown in model.shown}
    assert all(sorted(order) == sorted(ANSWERS) for order in orders)
    assert len(orders) > 1  # really shuffled
    for row in rows(tmp_path / "j"):
        assert row["score"] == (5.0 if "BEST" in row["response"] else 2.0)
        assert set(row["ratings"]) == set(ULTRAFEEDBACK_ASPECTS)
        for rating in row["ratings"].values():  # each rationale quotes its own answer
            assert rating["rationale"] == f"about {row['response'][:30]!r}"
        assert row["judge"] == "side-by-side-1"
        assert row["scale"]["low"] == 1 and row["scale"]["high"] == 5
        assert "side by side" in row["scale"]["meaning"]


def test_the_order_shown_is_seeded_per_prompt_and_aspect() -> None:
    assert shown_order(7, "p", "honesty", 4) == shown_order(7, "p", "honesty", 4)  # repeatable
    by_aspect = {tuple(shown_order(7, "p", aspect, 4)) for aspect in ULTRAFEEDBACK_ASPECTS}
    by_seed = {tuple(shown_order(seed, "p", "honesty", 4)) for seed in range(8)}
    by_prompt = {tuple(shown_order(7, f"p{n}", "honesty", 4)) for n in range(8)}
    assert min(len(by_aspect), len(by_seed), len(by_prompt)) > 1
    assert sorted(shown_order(3, "q", "honesty", 5)) == [0, 1, 2, 3, 4]


async def test_not_applicable_honesty_is_skipped_in_the_mean(tmp_path: Path) -> None:
    answers = ["a POEM that is the BEST", "a plain answer"]
    await ajudge(four("Q", answers), ComparativeJudge(SideBySideJudge()), tmp_path / "j")
    best, plain = rows(tmp_path / "j")
    assert best["ratings"]["honesty"]["rating"] == "N/A" and best["score"] == 5.0
    assert plain["score"] == 2.0


async def test_a_reply_with_the_wrong_count_fails_every_answer_of_its_prompt(
    tmp_path: Path,
) -> None:
    bad = four("Q-bad", ["one", "two MISCOUNT", "three"])
    report = await ajudge(bad + four("Q-ok"), ComparativeJudge(SideBySideJudge()), tmp_path / "j")
    assert report.rated == 4 and len(report.failures) == 3
    judged = rows(tmp_path / "j")
    errors = {row["judge_error"] for row in judged[:3]}
    (error,) = errors  # one verdict on the whole prompt
    pid = bad[0]["prompt_id"][:12]
    assert error.startswith(f"judge side-by-side-1: prompt {pid} (3 answers): the ")
    assert "reply rated 2 answers, not 3" in error and error.endswith(
        "no answer of this prompt was scored"
    )
    assert all(row["score"] is None and "ratings" not in row for row in judged[:3])
    assert all(row["score"] is not None for row in judged[3:])


async def test_retrying_a_failed_prompt_shows_every_answer_again(tmp_path: Path) -> None:
    bad = four("Q", ["one", "two MISCOUNT", "three"])
    out = tmp_path / "j.jsonl"
    await ajudge(bad, ComparativeJudge(SideBySideJudge()), out)
    bad[1] = candidate("Q", "two, now the BEST", sample=1)
    model = SideBySideJudge()
    report = await ajudge(bad, ComparativeJudge(model), out, retry_failed=True)
    assert report.rated == 3 and report.failures == []
    assert [row["score"] for row in rows(out)] == [2.0, 5.0, 2.0]

    lines = out.read_text(encoding="utf-8").splitlines()
    out.unlink()  # a killed run: one answer of the prompt was not logged
    (tmp_path / "j.jsonl.partial").write_text(lines[0] + "\n" + lines[2] + "\n")
    model = SideBySideJudge()
    report = await ajudge(bad, ComparativeJudge(model), out)
    assert (report.resumed, report.rated) == (2, 1)
    assert all(len(shown) == 3 for _, shown in model.shown)  # compared with all three
    assert [row["score"] for row in rows(out)] == [2.0, 5.0, 2.0]


async def test_flagged_answers_are_left_out_of_the_comparison(tmp_path: Path) -> None:
    answers = [
        candidate("Q", "", flags=["empty_response"]),
        candidate("Q", "a plain answer", sample=1),
        candidate("Q", "the BEST answer", sample=2),
    ]
    model = SideBySideJudge()
    report = await ajudge(answers, ComparativeJudge(model), tmp_path / "j")
    assert (report.skipped, report.rated) == (1, 2)
    assert all(len(shown) == 2 for _, shown in model.shown)


def test_the_budget_covers_every_rationale_and_the_count_is_in_the_schema() -> None:
    schema = ratings_schema("honesty", 4).model_json_schema()
    assert (
        schema["properties"]["ratings"]["minItems"],
        schema["properties"]["ratings"]["maxItems"],
    ) == (4, 4)
    assert 4 * MAX_RATIONALE < comparative_max_tokens(4) < comparative_max_tokens(5)


class LengthJudge:
    """A score-only judge (as a reward model is): the answer's length in words, capped at 10."""

    name = "length-judge"
    scale = ScoreScale(low=0.0, high=10.0, meaning="words in the answer, at most 10")
    compares = False
    prompts_per_call = 3

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def ajudge(self, prompts: Sequence[Sequence[CandidateRow]]) -> list[list[Verdict]]:
        self.calls.append(sum(len(rows) for rows in prompts))
        return [[self._one(row) for row in rows] for rows in prompts]

    def _one(self, row: CandidateRow) -> Verdict:
        if "UNSCORABLE" in row["response"]:
            return Verdict(None, error="length-judge: cannot count this")
        return Verdict(float(min(10, len(row["response"].split()))))


async def test_score_only_verdicts_and_their_scale_reach_binarizing(tmp_path: Path) -> None:
    answers = ["one", "two words", "three words here", "UNSCORABLE"]
    scorer = LengthJudge()
    assert isinstance(scorer, Judge)
    report = await ajudge(four("Q1", answers) + four("Q2", answers[:3]), scorer, tmp_path / "j")
    assert sorted(scorer.calls) == [1, 3, 3]  # 7 answers, 3 to a call, each rated once
    assert report.rated == 6 and [f.sample for f in report.failures] == [3]
    judged = rows(tmp_path / "j")
    assert all("ratings" not in row and row["scale"] == LengthJudge.scale for row in judged)
    assert [row["score"] for row in judged] == [1.0, 2.0, 3.0, None, 1.0, 2.0, 3.0]
    groups = from_candidates(judged)  # type: ignore[arg-type]
    assert all(group["scale"] == LengthJudge.scale for group in groups)
    pairs = binarize(groups, BinarizeOptions(seed=0)).pairs.to_pylist()
    assert len(pairs) == 2 and all(pair["score_chosen"] == 3.0 for pair in pairs)
    assert all(pair["chosen"][-1]["content"] == "three words here" for pair in pairs)


async def test_a_judge_that_miscounts_its_verdicts_fails_the_call_not_the_run(
    tmp_path: Path,
) -> None:
    class Short(LengthJudge):
        async def ajudge(self, prompts: Sequence[Sequence[CandidateRow]]) -> list[list[Verdict]]:
            return [[Verdict(1.0)] for _ in prompts[:-1]]

    report = await ajudge(four("Q"), Short(), tmp_path / "j")
    assert report.rated == 0 and len(report.failures) == 4
    assert "judge length-judge returned [1, 1] verdicts for [1, 1, 1] answers" in (
        report.failures[0].error
    )


def test_what_is_not_a_judge_is_refused(tmp_path: Path) -> None:
    with pytest.raises(JudgeError, match="the judge str is neither a Judge"):
        as_judge("tgi:http://x")  # type: ignore[arg-type]
    with pytest.raises(JudgeError, match="label='x' names a chat model judge"):
        as_judge(LengthJudge(), label="x")
    with pytest.raises(JudgeError, match="does not support with_structured_output"):
        ComparativeJudge(FakeListChatModel(responses=["x"]))
    assert as_judge(RuleJudge()).name == "RuleJudge"  # until its first reply names it
