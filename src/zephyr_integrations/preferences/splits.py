"""Train/test splits decided by a hash of ``prompt_id``, in ultrafeedback_binarized's names.

A prompt's split depends on (seed, prompt_id) only: a re-run, a reordering or more data never
moves it, and all pairs of one prompt (``all_pairs`` gives several) land in the same split.

- ``train_prefs`` / ``test_prefs``: the pairs.
- ``train_sft`` / ``test_sft`` (on request): one row per prompt (its first pair), ``messages`` the
  chosen conversation, for supervised fine-tuning.
- ``train_gen`` / ``test_gen`` (on request): the same rows with ``messages`` the prompt only, for
  generation (sampling new answers to judge).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zephyr_integrations.preferences.schema import CONVERSATION, pairs_only

#: ultrafeedback_binarized holds 2,000 of 63,135 prompts out for test_prefs (~3.2 %).
DEFAULT_TEST_SIZE = 2000 / 63135


def split_fraction(prompt_id: str, seed: int = 42) -> float:
    """A uniform number in [0, 1) fixed by (seed, prompt_id)."""
    digest = hashlib.blake2b(f"split\x00{seed}\x00{prompt_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def is_test(prompt_ids: pa.ChunkedArray | pa.Array, test_size: float, seed: int = 42) -> pa.Array:
    """A boolean mask: which rows' prompts belong to the test split."""
    if not 0 <= test_size < 1:
        raise ValueError(f"test_size must be a fraction in [0, 1), got {test_size!r}")
    verdicts: dict[str, bool] = {}
    mask = []
    for pid in prompt_ids.to_pylist():
        verdict = verdicts.get(pid)
        if verdict is None:
            verdict = verdicts[pid] = split_fraction(pid, seed) < test_size
        mask.append(verdict)
    return pa.array(mask, pa.bool_())


def first_per_prompt(table: pa.Table) -> pa.Table:
    """The first row of each prompt_id, in order."""
    seen: set[str] = set()
    keep = []
    for i, pid in enumerate(table.column("prompt_id").to_pylist()):
        if pid not in seen:
            seen.add(pid)
            keep.append(i)
    return table.take(pa.array(keep, pa.int64()))


def prompt_only(table: pa.Table) -> pa.Table:
    """``messages`` cut to the conversation before the answer (every row ends in one)."""
    messages = table.column("messages").combine_chunks()
    starts = np.asarray(messages.offsets)[:-1].astype(np.int64)
    lengths = np.asarray(pc.list_value_length(messages)).astype(np.int64) - 1
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    # Turn k of the new list is turn k of the old one: old index = new index + (start - offset).
    shift = np.repeat(starts - offsets[:-1], lengths)
    values = messages.values.take(pa.array(np.arange(offsets[-1]) + shift))
    cut = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, type=CONVERSATION)
    index = table.schema.get_field_index("messages")
    return table.set_column(index, "messages", cut)


def make_splits(
    pairs: pa.Table,
    *,
    test_size: float = DEFAULT_TEST_SIZE,
    seed: int = 42,
    sft: bool = False,
    gen: bool = False,
) -> dict[str, pa.Table]:
    """Split a table of pairs by prompt; the tables hold exactly the exported columns."""
    rows = pairs_only(pairs)
    test = is_test(rows.column("prompt_id"), test_size, seed)
    parts = {"train": rows.filter(pc.invert(test)), "test": rows.filter(test)}
    splits = {f"{part}_prefs": table for part, table in parts.items()}
    if sft:
        splits |= {f"{part}_sft": first_per_prompt(table) for part, table in parts.items()}
    if gen:
        splits |= {
            f"{part}_gen": prompt_only(first_per_prompt(table)) for part, table in parts.items()
        }
    return splits
