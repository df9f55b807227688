"""`zephyr import` of openbmb/UltraFeedback's raw layout, and ultrafeedback_binarized rebuilt.

The fixture is written here from the documented layout (OpenBMB/UltraFeedback's README and the
Hub dataset's columns): per completion, string ratings "1"-"5" per aspect (honesty may be
"N/A"), a rationale (plus a "Rationale For Rating" and a "Type" for helpfulness and
truthfulness), the fine-grained score (the aspect mean) and the 1-10 overall_score of the
critique. The scores are picked so that the best answer by overall_score and the best by the
aspect mean differ: the score the user names decides which answer is chosen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.unit.import_helpers import run, write_jsonl
from zephyr_integrations.preferences.importing import import_rows
from zephyr_integrations.preferences.records import mean_rating, prompt_id
from zephyr_integrations.preferences.sources import ImportOptions, SourceRowError

MODELS = ("gpt-4", "llama-2-13b-chat", "falcon-40b-instruct", "starchat")
#: By position: overall_score and (instruction_following, honesty, truthfulness, helpfulness).
#: Best overall: position 0 (9.0, aspect mean 3.0); best aspect mean: position 1 (4.75, 6.5).
OVERALL = (9.0, 6.5, 4.0, 7.5)
ASPECTS = (
    ("3", "N/A", "3", "3"),
    ("5", "5", "5", "4"),
    ("2", "1", "2", "2"),
    ("4", "N/A", "4", "5"),
)
NAMES = ("instruction_following", "honesty", "truthfulness", "helpfulness")


def annotation(aspect: str, rating: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"Rating": rating, "Rationale": f"why {aspect} is {rating}"}
    if aspect in ("helpfulness", "truthfulness"):
        entry["Rationale For Rating"] = f"the {aspect} rating {rating}, explained"
        entry["Type"] = ["1", "2"]
    return entry


def ultrafeedback_rows(prompts: int = 6) -> list[dict[str, Any]]:
    rows = []
    for i in range(prompts):
        completions = []
        for k, model in enumerate(MODELS):
            position = (k + i) % 4
            ratings = dict(zip(NAMES, ASPECTS[position], strict=True))
            rated = [int(r) for r in ratings.values() if r != "N/A"]
            completions.append(
                {
                    "annotations": {a: annotation(a, r) for a, r in ratings.items()},
                    "critique": f"critique of answer {k} to {i}",
                    "custom_system_prompt": "You are a helpful, honest assistant.",
                    "fine-grained_score": sum(rated) / len(rated),
                    "model": model,
                    "overall_score": OVERALL[position],
                    "principle": "helpfulness",
                    "response": f"answer {k} to question {i} (position {position})",
                }
            )
        rows.append(
            {
                "source": "evol_instruct",
                "instruction": f"Question {i}: how do tides work?",
                "models": list(MODELS),
                "completions": completions,
                "correct_answers": ["None"],
                "incorrect_answers": ["None"],
            }
        )
    return rows


def expected_pairs(rows: list[dict[str, Any]], score: str) -> dict[str, dict[str, Any]]:
    """What H4 would have made of the fixture, by prompt: the best answer and every answer's
    score on the column the user named."""
    out = {}
    for row in rows:
        scored = {}
        for c in row["completions"]:
            if score == "overall_score":
                scored[c["response"]] = c["overall_score"]
            else:
                ratings = {
                    a: {"rating": _int(v["Rating"]), "rationale": ""}
                    for a, v in c["annotations"].items()
                }
                scored[c["response"]] = mean_rating(ratings)  # type: ignore[arg-type]
        best = max(scored, key=lambda r: scored[r])
        out[prompt_id(row["instruction"])] = {"row": row, "best": best, "scores": scored}
    return out


def _int(value: str) -> int | str:
    return value if value == "N/A" else int(value)


@pytest.mark.parametrize("score", ["overall_score", "mean"])
def test_ultrafeedback_binarized_is_rebuilt_from_the_raw_layout(tmp_path: Path, score: str) -> None:
    rows = ultrafeedback_rows()
    raw = write_jsonl(tmp_path / "ultrafeedback.jsonl", rows)
    imported = tmp_path / "imported.jsonl"
    result = run("import", str(raw), "-o", str(imported), "--score", score)
    assert result.exit_code == 0, result.output
    assert (
        f"6 rows in layout ultrafeedback, score: {score} -> 24 judged candidate rows"
        in result.stderr
    )

    out = tmp_path / "export"
    result = run(
        "export", str(imported), "-o", str(out), "--strategy", "zephyr", "--test-size", "0"
    )
    assert result.exit_code == 0, result.output
    (shard,) = (out / "data").glob("train_prefs-*.parquet")
    table = pq.read_table(shard)
    assert table.column_names == [
        "prompt", "prompt_id", "chosen", "rejected", "messages", "score_chosen", "score_rejected"
    ]  # fmt: skip
    pairs = table.to_pylist()
    expected = expected_pairs(rows, score)
    assert {pair["prompt_id"] for pair in pairs} == set(expected)
    for pair in pairs:
        want = expected[pair["prompt_id"]]
        instruction = want["row"]["instruction"]
        assert pair["prompt"] == instruction
        assert pair["prompt_id"] == prompt_id(instruction)
        user = {"role": "user", "content": instruction}
        assert pair["chosen"] == [user, {"role": "assistant", "content": want["best"]}]
        assert pair["messages"] == pair["chosen"]
        assert pair["rejected"][0] == user
        rejected = pair["rejected"][1]["content"]
        assert pair["rejected"][1]["role"] == "assistant"
        assert rejected != want["best"] and rejected in want["scores"]
        # the scores are the fixture's values of the column the user named
        assert pair["score_chosen"] == want["scores"][want["best"]]
        assert pair["score_rejected"] == want["scores"][rejected]
    best_positions = {pair["chosen"][1]["content"].rsplit("position ", 1)[1] for pair in pairs}
    assert best_positions == ({"0)"} if score == "overall_score" else {"1)"})


def test_every_score_and_rationale_is_kept_in_the_candidates() -> None:
    (row,) = ultrafeedback_rows(1)
    imported = import_rows([row])
    assert imported.source.name == "ultrafeedback"
    assert imported.options.score == "overall_score"
    assert imported.stage == "judged"
    first = imported.rows[0]
    completion = row["completions"][0]
    assert first["prompt"] == row["instruction"]
    assert first["messages"] == [{"role": "user", "content": row["instruction"]}]
    assert (first["model"], first["sample"], first["response"]) == (
        "gpt-4",
        0,
        completion["response"],
    )
    assert first["judge"] == "gpt-4"
    assert first["score"] == 9.0
    assert first["scale"]["low"] == 1.0 and first["scale"]["high"] == 10.0
    assert "overall_score" in first["scale"]["meaning"]
    assert first["ratings"] == {
        "instruction_following": {"rating": 3, "rationale": "why instruction_following is 3"},
        "honesty": {"rating": "N/A", "rationale": "why honesty is N/A"},
        "truthfulness": {"rating": 3, "rationale": "the truthfulness rating 3, explained"},
        "helpfulness": {"rating": 3, "rationale": "the helpfulness rating 3, explained"},
    }
    assert first["params"] == {
        "system_prompt": "You are a helpful, honest assistant.",
        "principle": "helpfulness",
    }
    original = first["original"]
    assert original["overall_score"] == 9.0
    assert original["fine-grained_score"] == 3.0
    assert original["critique"] == "critique of answer 0 to 0"
    assert original["annotations"] == completion["annotations"]
    assert original["source"] == "evol_instruct"
    assert original["correct_answers"] == ["None"]

    by_mean = import_rows([row], options=ImportOptions(score="mean")).rows
    assert [r["score"] for r in by_mean] == [3.0, 4.75, 1.75, pytest.approx(13 / 3)]
    assert by_mean[0]["scale"]["high"] == 5.0 and "N/A skipped" in by_mean[0]["scale"]["meaning"]
    assert by_mean[0]["original"]["overall_score"] == 9.0  # the other score is kept too


def test_repeated_prompts_are_one_prompt_and_list_annotations_are_read() -> None:
    row = ultrafeedback_rows(1)[0]
    again = json.loads(json.dumps(row))
    again["completions"][0]["annotations"]["honesty"] = [{"Rating": "4", "Rationale": "listed"}]
    rows = import_rows([row, again]).rows
    assert len({r["prompt_id"] for r in rows}) == 1
    assert [(r["model"], r["sample"]) for r in rows[:1] + rows[4:5]] == [("gpt-4", 0), ("gpt-4", 1)]
    assert rows[4]["ratings"]["honesty"] == {"rating": 4, "rationale": "listed"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(instruction=7), "row 0: 'instruction' must be a string, got int"),
        (lambda r: r.update(completions={}), "row 0: 'completions' must be a list, got dict"),
        (
            lambda r: r["completions"][1].update(overall_score="9"),
            "row 0: completions[1]: 'overall_score' must be a number or null, got str",
        ),
        (
            lambda r: r["completions"][2]["annotations"]["honesty"].update(Rating="7"),
            "row 0: completions[2]: annotations.honesty.Rating must be 1-5 or N/A, got '7'",
        ),
        (
            lambda r: r["completions"][0].pop("model"),
            "row 0: completions[0]: 'model' must be a string, got null",
        ),
    ],
)
def test_a_bad_row_names_the_row_and_field(change: Any, message: str) -> None:
    row = ultrafeedback_rows(1)[0]
    change(row)
    with pytest.raises(SourceRowError) as caught:
        import_rows([row])
    assert str(caught.value) == message


def test_score_choices_belong_to_the_layout(tmp_path: Path) -> None:
    raw = write_jsonl(tmp_path / "uf.jsonl", ultrafeedback_rows(1))
    result = run("import", str(raw), "-o", str(tmp_path / "out.jsonl"), "--score", "median")
    assert result.exit_code == 2
    assert (
        "--score median: not a score of layout ultrafeedback (it offers overall_score, mean)"
        in (result.stderr)
    )
    result = run(
        "import",
        str(raw),
        "-o",
        str(tmp_path / "out.jsonl"),
        "--min-score",
        "0",
        "--max-score",
        "5",
    )
    assert result.exit_code == 2
    assert "--min-score/--max-score: layout ultrafeedback says what its scores range over" in (
        result.stderr
    )
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [{"chosen": "a b", "rejected": "a c"}])
    result = run("import", str(pairs), "-o", str(tmp_path / "out.jsonl"), "--score", "mean")
    assert result.exit_code == 2
    assert "not a score of layout trl (it has one way to score)" in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_imported_candidates_become_argilla_suggestions_for_re_annotation() -> None:
    from zephyr_integrations.preferences.argilla.layout import build_payload, group_candidates
    from zephyr_integrations.preferences.argilla.templates import (
        RANKING,
        RankingTemplate,
        RatingTemplate,
        rating_question,
        response_field,
    )

    (row,) = ultrafeedback_rows(1)
    (group,) = group_candidates(import_rows([row]).rows)  # type: ignore[arg-type]
    payload = build_payload(RatingTemplate.ultrafeedback(), group)
    shown = {slot: payload["fields"][response_field(slot)] for slot in range(1, 5)}  # shuffled
    suggested = {(s["question_name"], s["value"]) for s in payload["suggestions"]}
    expected = set()
    for slot, response in shown.items():
        (completion,) = [c for c in row["completions"] if c["response"] == response]
        for aspect, annotation in completion["annotations"].items():
            if annotation["Rating"] != "N/A":  # N/A gets no suggestion
                expected.add((rating_question(aspect, slot), int(annotation["Rating"])))
    assert suggested == expected
    assert {s["agent"] for s in payload["suggestions"]} == {"gpt-4"}

    (ranking,) = build_payload(RankingTemplate(responses=4), group)["suggestions"]
    assert ranking["question_name"] == RANKING
    slots = {response_field(slot): slot for slot in shown}
    best = shown[slots[ranking["value"][0]["value"]]]
    assert best.endswith("(position 0)")  # the best overall_score is ranked first
