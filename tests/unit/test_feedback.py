"""judge: UltraFeedback ratings through LangChain's with_structured_output, failures recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import FakeListChatModel

from tests.unit.test_feedback_fakes import RuleJudge, rate
from zephyr_integrations.preferences.feedback import JudgeError, ajudge, judge
from zephyr_integrations.preferences.records import (
    ULTRAFEEDBACK_ASPECTS,
    CandidateRow,
    from_candidates,
    prompt_id,
)


def candidate(prompt: str, response: str, sample: int = 0, **extra: Any) -> CandidateRow:
    row = CandidateRow(
        prompt_id=prompt_id(prompt),
        prompt=prompt,
        messages=[{"role": "user", "content": prompt}],
        model="gen",
        sample=sample,
        response=response,
        params={},
        usage=None,
        finish_reason="stop",
        flags=[],
    )
    row.update(extra)  # type: ignore[typeddict-item]
    return row


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_ratings_scores_and_judge_are_stored_on_the_rows(tmp_path: Path) -> None:
    candidates = [
        candidate("Q1", "Short."),
        candidate("Q1", "A longer answer of six words.", sample=1),
        candidate("Q2", "Two words"),
    ]
    report = await ajudge(candidates, RuleJudge(), tmp_path / "judged.jsonl", concurrency=2)
    assert (report.rated, report.failures, report.judge) == (3, [], "rule-judge-1")
    judged = rows(tmp_path / "judged.jsonl")
    assert [r["response"] for r in judged] == [c["response"] for c in candidates]
    for row in judged:
        assert set(row["ratings"]) == set(ULTRAFEEDBACK_ASPECTS)
        expected = rate(row["response"])
        assert {r["rating"] for r in row["ratings"].values()} == {expected}
        assert row["ratings"]["honesty"]["rationale"] == f"{len(row['response'].split())} words"
        assert row["score"] == expected and row["judge"] == "rule-judge-1"
        assert row["flags"] == [] and row["model"] == "gen"  # the candidate's fields kept
    groups = from_candidates(judged)  # type: ignore[arg-type]
    assert [[c["score"] for c in g["completions"]] for g in groups] == [[1.0, 5.0], [2.0]]


async def test_a_reply_that_does_not_parse_is_recorded_not_raised(tmp_path: Path) -> None:
    candidates = [
        candidate("Q", "fine answer"),
        candidate("Q", "GARBLE", sample=1),
        candidate("Q", "OFFSCALE rating", sample=2),
    ]
    report = await ajudge(candidates, RuleJudge(), tmp_path / "j.jsonl", label="my-judge")
    assert report.rated == 1
    by_sample = {f.sample: f for f in report.failures}
    assert set(by_sample) == {1, 2}
    assert by_sample[1].where == "row 1" and by_sample[1].model == "gen"
    assert "judge my-judge: the reply did not parse: no structured answer" in by_sample[1].error
    assert "'I think it is fine.'" in by_sample[1].error
    assert "instruction_following.rating: Input should be less than or equal to 5 (got 9)" in (
        by_sample[2].error
    )
    judged = rows(tmp_path / "j.jsonl")
    assert [r["score"] for r in judged] == [2.0, None, None]  # None, never a silent 0
    assert "ratings" not in judged[1] and judged[1]["judge_error"] == by_sample[1].error
    assert judged[1]["judge"] == "my-judge"


async def test_flagged_empty_answers_are_not_sent_to_the_judge(tmp_path: Path) -> None:
    model = RuleJudge()
    candidates = [candidate("Q", "", flags=["empty_response"]), candidate("Q", "ok", sample=1)]
    report = await ajudge(candidates, model, tmp_path / "j.jsonl")
    assert (model.calls, report.skipped, report.rated) == (1, 1, 1)
    empty = rows(tmp_path / "j.jsonl")[0]
    assert empty["score"] is None and empty["judge_error"] == "not judged: flagged empty_response"
    assert empty["judge"] == "rule-judge-1"


async def test_resume_and_retry_failed(tmp_path: Path) -> None:
    candidates = [candidate(f"Q{i}", "GARBLE" if i == 2 else f"answer {i}") for i in range(5)]
    out = tmp_path / "j.jsonl"
    await ajudge(candidates[:3], RuleJudge(), out)
    lines = out.read_text(encoding="utf-8").splitlines()
    out.unlink()  # as a killed run leaves it: a partial log with a torn last line
    (tmp_path / "j.jsonl.partial").write_text("\n".join(lines[:2]) + "\n" + lines[2][:30])

    model = RuleJudge()
    report = await ajudge(candidates, model, out)
    assert (report.resumed, report.torn_line_dropped, model.calls) == (2, True, 3)
    assert len(report.failures) == 1  # GARBLE, judged again since its line was torn

    candidates[2] = candidate("Q2", "now a fine answer")  # same key, so the same candidate
    fixed = RuleJudge()
    report = await ajudge(candidates, fixed, out, retry_failed=True)
    assert (fixed.calls, report.rated, report.failures) == (1, 1, [])
    judged = rows(out)
    assert len(judged) == 5 and all(r["score"] is not None for r in judged)


def test_a_judge_without_structured_output_is_refused(tmp_path: Path) -> None:
    with pytest.raises(JudgeError, match="FakeListChatModel does not support with_structured"):
        judge([candidate("Q", "a")], FakeListChatModel(responses=["x"]), tmp_path / "j.jsonl")
    assert not (tmp_path / "j.jsonl.partial").exists()


def test_bad_candidate_files_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    good = json.dumps(candidate("Q", "a"))
    path.write_text(
        f'{good}\n{{"prompt": "Q"}}\n{json.dumps({**candidate("Q", "b"), "sample": "0"})}\n'
    )
    with pytest.raises(JudgeError) as caught:
        judge(path, RuleJudge(), tmp_path / "j.jsonl")
    assert str(caught.value) == (
        f"{path}:2: missing field 'prompt_id'; "
        f"{path}:3: field 'sample' must be an integer 0 or more"
    )
    path.write_text(f"{good}\n{{oops\n")
    with pytest.raises(JudgeError, match=r"c\.jsonl:2: not valid JSON"):
        judge(path, RuleJudge(), tmp_path / "j.jsonl")
    assert not (tmp_path / "j.jsonl").exists() and not (tmp_path / "j.jsonl.partial").exists()


def test_duplicate_candidates_are_judged_once(tmp_path: Path) -> None:
    model = RuleJudge()
    report = judge([candidate("Q", "a"), candidate("Q", "a")], model, tmp_path / "j.jsonl")
    assert report.duplicates == ["row 1 repeats row 0"] and model.calls == 1
