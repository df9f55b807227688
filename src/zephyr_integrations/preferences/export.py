"""Writing splits of pairs to a folder, all or nothing.

`export` hands the splits to an :data:`Exporter` (``hub`` by default; ``trl``, ``parquet``,
``jsonl``, ``disk`` built in, and plugins' formats, looked up by name with
``zephyr_integrations.plugins.get_exporter``), which writes into a fresh temporary folder
beside the target; the folder is renamed into place only when it is complete: a failure leaves no
half-written export, and an existing export is replaced only with ``overwrite=True``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from zephyr_integrations.preferences.dataset_card import Provenance, render_card
from zephyr_integrations.preferences.schema import (
    PAIR_SCHEMA,
    PREFERENCE_SPLITS,
    explicit_prompt,
)
from zephyr_integrations.staging import atomic_folder

Exporter = Callable[[Mapping[str, pa.Table], Path, Provenance], None]
"""Writes splits (name -> table of pairs) into an empty folder; :func:`export` makes it atomic.
Registered by name through the ``register_exporters`` hook."""

#: Rows per Parquet shard in a Hub folder (ultrafeedback_binarized's train_prefs fits in one).
SHARD_ROWS = 100_000


class ExportError(ValueError):
    """The splits or the target cannot be exported as asked."""


def check_splits(splits: Mapping[str, pa.Table]) -> None:
    """Every split is named and holds exactly the published columns and types."""
    if not splits:
        raise ExportError("nothing to export: no splits")
    for name, table in splits.items():
        if not name or not name.replace("_", "").isalnum():
            raise ExportError(f"split name {name!r} must be letters, digits and underscores")
        if not table.schema.equals(PAIR_SCHEMA):
            raise ExportError(
                f"split {name!r} does not have the ultrafeedback_binarized schema: "
                f"got {table.schema.names} ({table.schema}), expected {PAIR_SCHEMA.names}"
            )


def export(
    splits: Mapping[str, pa.Table],
    target: str | Path,
    writer: Exporter | None = None,
    *,
    about: Provenance | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``splits`` to the folder ``target`` with ``writer`` (default: the Hub folder,
    :func:`write_hub_folder`); return the folder."""
    check_splits(splits)
    exporter = write_hub_folder if writer is None else writer
    with atomic_folder(target, overwrite=overwrite) as staging:
        exporter(splits, staging, about or Provenance())
    return Path(target)


def _write_provenance(folder: Path, about: Provenance) -> None:
    text = json.dumps(about.as_dict(), indent=2, ensure_ascii=False)
    (folder / "provenance.json").write_text(text + "\n", encoding="utf-8")


def write_parquet(splits: Mapping[str, pa.Table], folder: Path, about: Provenance) -> None:
    """``<split>.parquet`` per split, and provenance.json."""
    for name, table in splits.items():
        pq.write_table(table, folder / f"{name}.parquet")
    _write_provenance(folder, about)


def write_jsonl(splits: Mapping[str, pa.Table], folder: Path, about: Provenance) -> None:
    """``<split>.jsonl`` per split (UTF-8, one pair per line), and provenance.json."""
    for name, table in splits.items():
        with (folder / f"{name}.jsonl").open("w", encoding="utf-8") as out:
            for batch in table.to_batches(max_chunksize=10_000):
                for row in batch.to_pylist():
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
    _write_provenance(folder, about)


def write_disk(splits: Mapping[str, pa.Table], folder: Path, about: Provenance) -> None:
    """``datasets.DatasetDict.save_to_disk`` (``datasets.load_from_disk`` reads it back)."""
    from datasets import Dataset, DatasetDict
    from datasets.table import InMemoryTable

    DatasetDict({name: Dataset(InMemoryTable(t)) for name, t in splits.items()}).save_to_disk(
        str(folder)
    )


def shard_names(split: str, rows: int, shard_rows: int = SHARD_ROWS) -> list[str]:
    """``data/<split>-00000-of-0000N.parquet``, the Hub's own naming."""
    count = max(1, math.ceil(rows / shard_rows))
    return [f"data/{split}-{k:05d}-of-{count:05d}.parquet" for k in range(count)]


def write_hub_folder(
    splits: Mapping[str, pa.Table],
    folder: Path,
    about: Provenance,
    *,
    shard_rows: int = SHARD_ROWS,
    layout: str = "ultrafeedback_binarized",
) -> None:
    """Parquet shards under data/ and the README.md dataset card: a Hub dataset repository.

    An empty split is left out (and named in the card): `datasets` cannot read a Parquet file
    without rows."""
    present = {name: table for name, table in splits.items() if table.num_rows}
    if not present:
        raise ExportError("every split is empty: nothing to export")
    (folder / "data").mkdir()
    for name, table in present.items():
        for k, path in enumerate(shard_names(name, table.num_rows, shard_rows)):
            pq.write_table(table.slice(k * shard_rows, shard_rows), folder / path)
    empty = [name for name in splits if name not in present]
    card = render_card(present, about, empty=empty, layout=layout)
    (folder / "README.md").write_text(card, encoding="utf-8")


def write_trl_folder(splits: Mapping[str, pa.Table], folder: Path, about: Provenance) -> None:
    """A Hub dataset repository of the preference splits in TRL's explicit-prompt layout
    (`TRL_SCHEMA`), which DPOTrainer trains on with every column left in. The sft and gen
    splits have no pairs to give it, so they are left out."""
    prefs = {name: table for name, table in splits.items() if name in PREFERENCE_SPLITS}
    if not prefs:
        raise ExportError(f"the trl format holds {' and '.join(PREFERENCE_SPLITS)}; none given")
    converted = {name: explicit_prompt(table) for name, table in prefs.items()}
    write_hub_folder(converted, folder, about, layout="trl")
