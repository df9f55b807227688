"""Registers the built-in export formats: ``hub``, ``trl``, ``parquet``, ``jsonl``, ``disk``.

pyarrow and datasets are imported only when an export runs, so loading plugins stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from zephyr_integrations.hookspecs import RegisterExporter, hookimpl

if TYPE_CHECKING:
    import pyarrow as pa

    from zephyr_integrations.preferences.dataset_card import Provenance


def hub(splits: Mapping[str, pa.Table], folder: Path, about: Provenance) -> None:
    """Parquet shards under data/ and a README.md dataset card: what the Hub serves."""
    from zephyr_integrations.preferences.export import write_hub_folder

    write_hub_folder(splits, folder, about)


def trl(splits: Mapping[str, pa.Table], folder: Path, about: Provenance) -> None:
    """A Hub folder in TRL's explicit-prompt layout: DPOTrainer reads it with every column."""
    from zephyr_integrations.preferences.export import write_trl_folder

    write_trl_folder(splits, folder, about)


def parquet(splits: Mapping[str, pa.Table], folder: Path, about: Provenance) -> None:
    """One ``<split>.parquet`` file per split."""
    from zephyr_integrations.preferences.export import write_parquet

    write_parquet(splits, folder, about)


def jsonl(splits: Mapping[str, pa.Table], folder: Path, about: Provenance) -> None:
    """One ``<split>.jsonl`` file per split, one pair per line."""
    from zephyr_integrations.preferences.export import write_jsonl

    write_jsonl(splits, folder, about)


def disk(splits: Mapping[str, pa.Table], folder: Path, about: Provenance) -> None:
    """``datasets.DatasetDict.save_to_disk`` (read back with ``load_from_disk``)."""
    from zephyr_integrations.preferences.export import write_disk

    write_disk(splits, folder, about)


@hookimpl
def register_exporters(register: RegisterExporter) -> None:
    register("hub", hub)
    register("trl", trl)
    register("parquet", parquet)
    register("jsonl", jsonl)
    register("disk", disk)
