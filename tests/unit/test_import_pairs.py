"""`zephyr import` of pair data: TRL's four formats and ultrafeedback_binarized, from every kind
of file, round-tripped through binarize and export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.unit.import_helpers import run, write_jsonl
from zephyr_integrations.preferences.importing import import_file, import_rows
from zephyr_integrations.preferences.records import prompt_id
from zephyr_integrations.preferences.sources import ImportOptions

SYSTEM = {"role": "system", "content": "Answer in one sentence."}


def turn(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": content}


#: (prompt turns, chosen answer, rejected answer) of each example, in every format below.
CONVERSATIONS = [
    ([turn("user", "What color is the sky?")], "It is blue.", "It is green."),
    (
        [
            SYSTEM,
            turn("user", "Hi"),
            turn("assistant", "Hello!"),
            turn("user", "Where is the sun?"),
        ],
        "In the sky.",
        "In the sea.",
    ),
]
#: TRL's own standard example: the implicit prompt is the common beginning less its last space.
TEXTS = [("The sky is", " blue.", " green."), ("The sun is", " yellow.", " purple.")]


def trl_rows(prompt: str, style: str) -> list[dict[str, Any]]:
    """TRL preference rows: explicit or implicit prompt, standard or conversational."""
    if style == "standard":
        if prompt == "explicit":
            return [{"prompt": p, "chosen": c, "rejected": r} for p, c, r in TEXTS]
        return [{"chosen": p + c, "rejected": p + r} for p, c, r in TEXTS]
    if prompt == "explicit":
        return [
            {"prompt": p, "chosen": [turn("assistant", c)], "rejected": [turn("assistant", r)]}
            for p, c, r in CONVERSATIONS
        ]
    return [
        {"chosen": [*p, turn("assistant", c)], "rejected": [*p, turn("assistant", r)]}
        for p, c, r in CONVERSATIONS
    ]


def expected(style: str) -> list[tuple[list[dict[str, str]], str, str]]:
    if style == "standard":
        return [([turn("user", p)], c, r) for p, c, r in TEXTS]
    return CONVERSATIONS


def read_split(folder: Path, split: str = "train_prefs") -> list[dict[str, Any]]:
    (shard,) = (folder / "data").glob(f"{split}-*.parquet")
    rows: list[dict[str, Any]] = pq.read_table(shard).to_pylist()
    return rows


@pytest.mark.parametrize("style", ["standard", "conversational"])
@pytest.mark.parametrize("prompt", ["explicit", "implicit"])
def test_trl_data_round_trips_through_import_binarize_and_export(
    tmp_path: Path, prompt: str, style: str
) -> None:
    source = write_jsonl(tmp_path / "trl.jsonl", trl_rows(prompt, style))
    imported = tmp_path / "prefs.jsonl"
    result = run("import", str(source), "-o", str(imported))
    assert result.exit_code == 0, result.output
    assert "2 rows in layout trl -> 2 preference rows" in result.stderr
    first = [json.loads(line) for line in imported.read_text().splitlines()]
    assert all(row["source"] == "unknown" for row in first)
    assert first[0]["scale"] == {
        "low": 0.0,
        "high": 1.0,
        "meaning": "1 for the answer the source marked chosen, 0 for the one it marked rejected "
        "(the source gives no scores)",
    }

    out = tmp_path / "trl-export"
    result = run("export", str(imported), "-o", str(out), "--format", "trl", "--test-size", "0")
    assert result.exit_code == 0, result.output
    exported = sorted(read_split(out), key=lambda row: row["prompt"][-1]["content"])
    want = sorted(expected(style), key=lambda example: example[0][-1]["content"])
    assert [(row["prompt"], row["chosen"], row["rejected"]) for row in exported] == [
        (p, [turn("assistant", c)], [turn("assistant", r)]) for p, c, r in want
    ]
    assert {(row["score_chosen"], row["score_rejected"]) for row in exported} == {(1.0, 0.0)}

    # TRL's explicit conversational layout (what the export wrote) reads back to the same rows
    again = import_file(out, split="train_prefs")
    assert again.source.name == "trl"
    by_id = {row["prompt_id"]: row for row in first}
    for row in again.rows:
        before = by_id[row["prompt_id"]]
        assert row["messages"] == before["messages"]
        assert row["completions"] == before["completions"]


def test_the_implicit_standard_prompt_is_found_as_trl_finds_it() -> None:
    (row,) = import_rows([{"chosen": "The sky is blue.", "rejected": "The sky is green."}]).rows
    assert row["prompt"] == "The sky is"
    assert [c["response"] for c in row["completions"]] == [" blue.", " green."]
    assert row["prompt_id"] == prompt_id("The sky is")


def h4_rows() -> list[dict[str, Any]]:
    """Rows in HuggingFaceH4/ultrafeedback_binarized's columns, the last one a tie."""
    out = []
    for i, (best, other) in enumerate([(8.5, 3.0), (10.0, 7.25), (6.0, 6.0)]):
        prompt = f"Explain topic {i}."
        chosen = [turn("user", prompt), turn("assistant", f"a fine answer about {i}")]
        rejected = [turn("user", prompt), turn("assistant", f"a weak answer about {i}")]
        out.append(
            {
                "prompt": prompt,
                "prompt_id": prompt_id(prompt),
                "chosen": chosen,
                "rejected": rejected,
                "messages": chosen,
                "score_chosen": best,
                "score_rejected": other,
            }
        )
    return out


def test_ultrafeedback_binarized_round_trips_unchanged(tmp_path: Path) -> None:
    rows = h4_rows()
    source = write_jsonl(tmp_path / "h4.jsonl", rows)
    imported = tmp_path / "prefs.jsonl"
    result = run("import", str(source), "-o", str(imported))
    assert result.exit_code == 0, result.output
    assert "3 rows in layout ultrafeedback_binarized -> 3 preference rows" in result.stderr
    prefs = [json.loads(line) for line in imported.read_text().splitlines()]
    assert prefs[0]["source"] == "ai"
    assert prefs[0]["messages"] == [turn("user", "Explain topic 0.")]
    assert prefs[0]["completions"] == [
        {"model": "", "response": "a fine answer about 0", "score": 8.5},
        {"model": "", "response": "a weak answer about 0", "score": 3.0},
    ]
    scale = prefs[0]["scale"]
    assert (scale["low"], scale["high"]) == (3.0, 10.0)
    assert "names no scale" in scale["meaning"]

    out = tmp_path / "hub"
    result = run("export", str(imported), "-o", str(out), "--test-size", "0")
    assert result.exit_code == 0, result.output
    assert sorted(read_split(out), key=lambda r: r["prompt"]) == rows


def test_a_named_score_range_is_each_rows_scale(tmp_path: Path) -> None:
    options = ImportOptions(score_range=(0.0, 10.0))
    (row, *_) = import_rows(h4_rows(), options=options).rows
    assert row["scale"]["low"] == 0.0 and row["scale"]["high"] == 10.0
    assert "on the range given to import [0, 10]" in row["scale"]["meaning"]

    source = write_jsonl(tmp_path / "h4.jsonl", h4_rows())
    out = tmp_path / "prefs.jsonl"
    result = run("import", str(source), "-o", str(out), "--min-score", "1", "--max-score", "10")
    assert result.exit_code == 0, result.output
    scale = json.loads(out.read_text().splitlines()[0])["scale"]
    assert (scale["low"], scale["high"]) == (1.0, 10.0)
    result = run("import", str(source), "-o", str(out), "--min-score", "1", "--overwrite")
    assert result.exit_code == 2
    assert "--min-score and --max-score go together" in result.stderr


def test_every_file_kind_reads_the_same_rows(tmp_path: Path) -> None:
    rows = h4_rows()
    jsonl = write_jsonl(tmp_path / "h4.jsonl", rows)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "h4.parquet")
    data = datasets.Dataset.from_list(rows)
    data.save_to_disk(str(tmp_path / "flat"))
    datasets.DatasetDict({"train_prefs": data, "test_prefs": data.select([0])}).save_to_disk(
        str(tmp_path / "dict")
    )
    hub = tmp_path / "hub" / "data"
    hub.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows[:2]), hub / "train_prefs-00000-of-00002.parquet")
    pq.write_table(pa.Table.from_pylist(rows[2:]), hub / "train_prefs-00001-of-00002.parquet")
    pq.write_table(pa.Table.from_pylist(rows[:1]), hub / "test_prefs-00000-of-00001.parquet")

    reference = import_file(jsonl).rows
    assert len(reference) == 3
    assert import_file(tmp_path / "h4.parquet").rows == reference
    assert import_file(tmp_path / "flat").rows == reference
    assert import_rows(data).rows == reference  # a datasets.Dataset, from Python
    assert import_file(tmp_path / "dict", split="train_prefs").rows == reference
    assert import_file(tmp_path / "hub", split="train_prefs").rows == reference
    assert len(import_file(tmp_path / "hub", split="test_prefs").rows) == 1
    with pytest.raises(ValueError, match=r"hub: choose a split with --split \(one of test_prefs"):
        import_file(tmp_path / "hub")
    with pytest.raises(ValueError, match=r"dict: choose a split with --split"):
        import_file(tmp_path / "dict")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"chosen": "same start", "rejected": [turn("assistant", "x")]},
            "row 0: 'chosen' and 'rejected' must both be strings (standard) or both lists of "
            "turns (conversational), got str and list",
        ),
        (
            {"chosen": "Blue.", "rejected": "Green."},
            "row 0: 'chosen' and 'rejected' share no beginning, so there is no implicit prompt; "
            "add a 'prompt' column",
        ),
        (
            {
                "prompt": [turn("user", "q")],
                "chosen": [turn("assistant", "a"), turn("user", "more?")],
                "rejected": [turn("assistant", "b")],
            },
            "row 0: 'chosen' must end in one assistant turn after the prompt, got turns "
            "(assistant, user) after 1 prompt turn(s)",
        ),
        (
            {"chosen": [turn("user", "q"), {"role": "assistant"}], "rejected": []},
            "row 0: chosen[1] must be {role, content} strings, got dict",
        ),
    ],
)
def test_a_bad_pair_names_the_row_and_field(row: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:  # noqa: PT011 - the message is checked whole
        import_rows([row], layout="trl")
    assert str(caught.value) == message


def test_a_json_array_file_is_read_like_json_lines(tmp_path: Path) -> None:
    rows = h4_rows()
    (tmp_path / "h4.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    lines = write_jsonl(tmp_path / "lines.json", rows)
    assert import_file(tmp_path / "h4.json").rows == import_file(lines).rows
    (tmp_path / "cut.json").write_text(json.dumps(rows)[:-5], encoding="utf-8")
    with pytest.raises(ValueError, match=r"cut.json: not valid JSON \("):
        import_file(tmp_path / "cut.json")
