"""Export: the published schema, every format read back equal, the dataset card, all or nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from zephyr_integrations.hookspecs import RegisterExporter, hookimpl
from zephyr_integrations.plugins import exporters, get_exporter, load_plugins
from zephyr_integrations.preferences.binarize import binarize
from zephyr_integrations.preferences.dataset_card import Provenance
from zephyr_integrations.preferences.export import ExportError, export, write_hub_folder
from zephyr_integrations.preferences.records import prompt_id
from zephyr_integrations.preferences.schema import PAIR_SCHEMA
from zephyr_integrations.preferences.splits import make_splits


def rows(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        prompt = f"Question {i}: é, 中文, emoji 🙂?"
        out.append(
            {
                "prompt_id": prompt_id(prompt),
                "prompt": prompt,
                "messages": [{"role": "user", "content": prompt}],
                "source": "human" if i % 3 else "ai",
                "completions": [
                    {"model": "x", "response": f"long answer {i} " * 3, "score": 8.5},
                    {"model": "y", "response": f"short {i}", "score": 3.0},
                    {"model": "z", "response": f"mid {i}", "score": None if i % 4 else 5.0},
                ],
            }
        )
    out.append({**out[0], "completions": out[0]["completions"][:1]})  # dropped: one answer
    return out


@pytest.fixture(scope="module")
def made() -> tuple[dict[str, pa.Table], Provenance]:
    result = binarize(rows(40))
    splits = make_splits(result.pairs, test_size=0.25, sft=True, gen=True)
    return splits, Provenance.from_result(result, test_size=0.25, license="cc-by-4.0")


def test_schema_is_ultrafeedback_binarized() -> None:
    assert PAIR_SCHEMA.names == [
        "prompt", "prompt_id", "chosen", "rejected", "messages", "score_chosen", "score_rejected"
    ]  # fmt: skip
    turn = pa.list_(pa.struct([("content", pa.string()), ("role", pa.string())]))
    assert [PAIR_SCHEMA.field(c).type for c in ("chosen", "rejected", "messages")] == [turn] * 3
    assert PAIR_SCHEMA.field("score_chosen").type == pa.float64()
    assert PAIR_SCHEMA.field("score_rejected").type == pa.float64()
    assert binarize(rows(3)).pairs.select(PAIR_SCHEMA.names).schema.equals(PAIR_SCHEMA)


def test_hub_folder_reads_back_equal_with_load_dataset(
    made: tuple[dict[str, pa.Table], Provenance], tmp_path: Path
) -> None:
    from datasets import load_dataset

    splits, about = made
    folder = export(splits, tmp_path / "hub", get_exporter("hub"), about=about)
    assert sorted(p.name for p in (folder / "data").iterdir()) == sorted(
        f"{name}-00000-of-00001.parquet" for name in splits
    )
    loaded = load_dataset(str(folder), verification_mode="all_checks")
    assert list(loaded) == list(splits)
    for name, table in splits.items():
        assert loaded[name].to_list() == table.to_pylist()
        assert loaded[name].features.arrow_schema.equals(PAIR_SCHEMA)


def test_hub_folder_shards_large_splits(
    made: tuple[dict[str, pa.Table], Provenance], tmp_path: Path
) -> None:
    from datasets import load_dataset

    splits, about = made
    only = {"train_prefs": splits["train_prefs"]}
    (tmp_path / "sharded").mkdir()
    write_hub_folder(only, tmp_path / "sharded", about, shard_rows=7)
    shards = sorted((tmp_path / "sharded" / "data").iterdir())
    count = -(-only["train_prefs"].num_rows // 7)
    assert [p.name for p in shards] == [
        f"train_prefs-{k:05d}-of-{count:05d}.parquet" for k in range(count)
    ]
    loaded = load_dataset(str(tmp_path / "sharded"), split="train_prefs")
    assert loaded.to_list() == only["train_prefs"].to_pylist()


def test_dataset_card_says_license_configs_counts_and_method(
    made: tuple[dict[str, pa.Table], Provenance], tmp_path: Path
) -> None:
    splits, about = made
    folder = export(splits, tmp_path / "hub", about=about)
    text = (folder / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(text.split("---")[1])
    assert header["license"] == "cc-by-4.0"
    (config,) = header["configs"]
    assert config["data_files"] == [
        {"split": name, "path": f"data/{name}-*.parquet"} for name in splits
    ]
    counts = {s["name"]: s["num_examples"] for s in header["dataset_info"]["splits"]}
    assert counts == {name: t.num_rows for name, t in splits.items()}
    assert f"| `train_prefs` | {splits['train_prefs'].num_rows:,} |" in text
    assert "drawn at random from the others, seeded per `prompt_id`" in text
    assert "| fewer_than_two_answers | 1 |" in text
    assert "from 41 prompts" in text
    assert about.sources == {"human": 26, "ai": 14}


def test_parquet_jsonl_and_disk_read_back_equal(
    made: tuple[dict[str, pa.Table], Provenance], tmp_path: Path
) -> None:
    from datasets import load_from_disk

    splits, about = made
    parquet = export(splits, tmp_path / "parquet", get_exporter("parquet"), about=about)
    jsonl = export(splits, tmp_path / "jsonl", get_exporter("jsonl"), about=about)
    disk = export(splits, tmp_path / "disk", get_exporter("disk"), about=about)
    from_disk = load_from_disk(str(disk))
    for name, table in splits.items():
        assert pq.read_table(parquet / f"{name}.parquet").equals(table)
        lines = (jsonl / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        assert [json.loads(line) for line in lines] == table.to_pylist()
        assert from_disk[name].to_list() == table.to_pylist()
    provenance = json.loads((parquet / "provenance.json").read_text(encoding="utf-8"))
    assert provenance["strategy"] == "zephyr"
    assert provenance["dropped"] == {"fewer_than_two_answers": 1}


class FailingExporter:
    """Writes one file, then fails: what a crash half-way through an export looks like."""

    @hookimpl
    def register_exporters(self, register: RegisterExporter) -> None:
        def half(splits: Mapping[str, pa.Table], folder: Path, about: Provenance) -> None:
            (folder / "first.parquet").write_bytes(b"PAR1 partial")
            raise OSError("disk full")

        register("half", half)


@pytest.fixture
def failing_exporter() -> Iterator[None]:
    pm = load_plugins()
    plugin = FailingExporter()
    pm.register(plugin, name="failing-exporter")
    yield
    pm.unregister(plugin)


@pytest.mark.usefixtures("failing_exporter")
def test_a_failed_export_leaves_nothing_half_written(
    made: tuple[dict[str, pa.Table], Provenance], tmp_path: Path
) -> None:
    splits, about = made
    assert "half" in exporters()
    with pytest.raises(OSError, match="disk full"):
        export(splits, tmp_path / "out", get_exporter("half"), about=about)
    assert list(tmp_path.iterdir()) == []
    # Replacing an existing export: the old one survives a failure intact.
    export(splits, tmp_path / "out", get_exporter("parquet"), about=about)
    before = sorted(p.name for p in (tmp_path / "out").iterdir())
    with pytest.raises(OSError, match="disk full"):
        export(splits, tmp_path / "out", get_exporter("half"), about=about, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == before


def test_existing_target_is_replaced_only_when_asked(
    made: tuple[dict[str, pa.Table], Provenance], tmp_path: Path
) -> None:
    splits, about = made
    export(splits, tmp_path / "out", get_exporter("jsonl"), about=about)
    with pytest.raises(FileExistsError, match="overwrite"):
        export(splits, tmp_path / "out", get_exporter("parquet"), about=about)
    export(splits, tmp_path / "out", get_exporter("parquet"), about=about, overwrite=True)
    assert not list((tmp_path / "out").glob("*.jsonl"))
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_wrong_columns_or_format_are_refused_before_writing(
    made: tuple[dict[str, pa.Table], Provenance], tmp_path: Path
) -> None:
    splits, about = made
    renamed = splits["train_prefs"].rename_columns([*PAIR_SCHEMA.names[:-1], "score_rejected_x"])
    with pytest.raises(ExportError, match="schema"):
        export({"train_prefs": renamed}, tmp_path / "a", about=about)
    with pytest.raises(ValueError, match="exporter 'csv' is not registered.*hub"):
        export(splits, tmp_path / "b", get_exporter("csv"), about=about)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_split_is_left_out_of_the_hub_folder(
    made: tuple[dict[str, pa.Table], Provenance], tmp_path: Path
) -> None:
    """datasets cannot read a Parquet file without rows (ArrowInvalid: BatchSize ... 0)."""
    from datasets import load_dataset

    splits, about = made
    few = {"train_prefs": splits["train_prefs"], "test_prefs": splits["test_prefs"].slice(0, 0)}
    folder = export(few, tmp_path / "hub", about=about)
    assert [p.name for p in (folder / "data").iterdir()] == ["train_prefs-00000-of-00001.parquet"]
    assert "| `test_prefs` | 0 (left out) |" in (folder / "README.md").read_text()
    assert list(load_dataset(str(folder))) == ["train_prefs"]
    with pytest.raises(ExportError, match="every split is empty"):
        export({"train_prefs": few["test_prefs"]}, tmp_path / "none", about=about)
    assert not (tmp_path / "none").exists()
