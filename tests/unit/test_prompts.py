"""Prompt readers: each format, prompt and messages rows, errors naming file and line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from zephyr_integrations.preferences.prompts import PromptFileError, read_prompts


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_jsonl_prompts_and_messages(tmp_path: Path) -> None:
    conversation = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one?"},
        {"role": "assistant", "content": "Red."},  # a chosen answer: cut off
    ]
    path = write_jsonl(
        tmp_path / "p.jsonl", [{"prompt": "What is DPO?"}, {"messages": conversation}]
    )
    prompts = read_prompts(path).prompts
    assert [p.prompt for p in prompts] == ["What is DPO?", "Another one?"]
    assert prompts[0].prompt_id == hashlib.sha256(b"What is DPO?").hexdigest()
    assert prompts[0].messages == [{"role": "user", "content": "What is DPO?"}]
    assert prompts[1].messages == conversation[:4]
    assert prompts[1].where == f"{path}:2"


def test_csv_line_numbers_follow_multiline_cells(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text('prompt,source\n"two\nlines",a\n,b\n', encoding="utf-8")
    with pytest.raises(PromptFileError) as caught:
        read_prompts(path)
    assert str(caught.value) == f"{path}:4: 'prompt' is empty"


def test_csv_messages_cell_is_json(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    cell = json.dumps([{"role": "user", "content": "Hi there"}]).replace('"', '""')
    path.write_text(f'messages\n"{cell}"\n', encoding="utf-8")
    assert read_prompts(path).prompts[0].prompt == "Hi there"


def test_parquet_and_datasets_folder(tmp_path: Path) -> None:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"prompt": ["a?", "b?"]}), tmp_path / "p.parquet")
    assert [p.prompt for p in read_prompts(tmp_path / "p.parquet").prompts] == ["a?", "b?"]

    turns = [[{"role": "user", "content": "c?"}, {"role": "assistant", "content": "C."}]]
    data = datasets.Dataset.from_dict({"prompt": ["c?"], "messages": turns})
    datasets.DatasetDict({"train_gen": data}).save_to_disk(str(tmp_path / "dict"))
    data.save_to_disk(str(tmp_path / "flat"))
    assert read_prompts(tmp_path / "flat").prompts[0].messages == turns[0][:1]
    assert read_prompts(tmp_path / "dict", split="train_gen").prompts[0].prompt == "c?"
    with pytest.raises(PromptFileError, match="choose a split with --split .*train_gen"):
        read_prompts(tmp_path / "dict")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"question": "x"}, ":2: no 'prompt' or 'messages' field (fields: question)"),
        ({"prompt": 7}, ":2: 'prompt' must be a string, got int"),
        ({"prompt": None}, ":2: 'prompt' must be a string, got null"),
        ({"prompt": "  "}, ":2: 'prompt' is empty"),
        ({"messages": "hi"}, ":2: 'messages' must be a list of turns, got str"),
        ({"messages": [{"role": "user", "content": 3}]}, ":2: messages[0] needs string"),
        ({"messages": [{"role": "system", "content": "s"}]}, ":2: 'messages' has no user turn"),
        (["prompt"], ":2: expected an object with a prompt, got list"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, row: object, message: str) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"prompt": "fine"}, row])
    with pytest.raises(PromptFileError) as caught:
        read_prompts(path)
    assert str(caught.value).startswith(f"{path}{message}")


def test_every_bad_line_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "ok"}\n{not json\n\n{"prompt": 1}\n', encoding="utf-8")
    with pytest.raises(PromptFileError) as caught:
        read_prompts(path)
    assert caught.value.problems == [
        f"{path}:2: not valid JSON (Expecting property name enclosed in double quotes)",
        f"{path}:4: 'prompt' must be a string, got int",
    ]


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(PromptFileError, match="no such file"):
        read_prompts(tmp_path / "missing.jsonl")
    (tmp_path / "p.txt").write_text("hello")
    with pytest.raises(PromptFileError, match=r"unknown format \.txt"):
        read_prompts(tmp_path / "p.txt")
    (tmp_path / "p.parquet").write_bytes(b"not parquet")
    with pytest.raises(PromptFileError, match="cannot be read as Parquet"):
        read_prompts(tmp_path / "p.parquet")
    (tmp_path / "latin.jsonl").write_bytes(b'{"prompt": "caf\xe9"}\n')
    with pytest.raises(PromptFileError, match="not UTF-8 text"):
        read_prompts(tmp_path / "latin.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(PromptFileError, match="no prompts"):
        read_prompts(tmp_path / "empty.jsonl")
    (tmp_path / "folder").mkdir()
    with pytest.raises(PromptFileError, match="not a saved datasets folder"):
        read_prompts(tmp_path / "folder")


def test_duplicates_are_reported_and_kept_once(tmp_path: Path) -> None:
    rows = [{"prompt": "a"}, {"prompt": "b"}, {"messages": [{"role": "user", "content": "a"}]}]
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    prompt_set = read_prompts(path)
    assert [p.prompt for p in prompt_set.prompts] == ["a", "b"]
    [duplicate] = prompt_set.duplicates
    assert (duplicate.where, duplicate.first) == (f"{path}:3", f"{path}:1")


def test_a_hub_dataset_folder_is_read_by_split(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "hub" / "data").mkdir(parents=True)
    for split, prompts in {"train_gen": ["a?", "b?"], "test_gen": ["c?"]}.items():
        shard = tmp_path / "hub" / "data" / f"{split}-00000-of-00001.parquet"
        pq.write_table(pa.table({"prompt": prompts}), shard)
    found = read_prompts(tmp_path / "hub", split="train_gen").prompts
    assert [(p.prompt, p.where) for p in found] == [
        ("a?", f"{tmp_path / 'hub'} train_gen row 0"),
        ("b?", f"{tmp_path / 'hub'} train_gen row 1"),
    ]
    with pytest.raises(
        PromptFileError, match=r"choose a split with --split \(one of test_gen, train_gen\)"
    ):
        read_prompts(tmp_path / "hub")
