"""The columns of HuggingFaceH4/ultrafeedback_binarized, as Arrow types: what every export holds.

    prompt          string   the last user turn
    prompt_id       string   sha256 hex digest of the prompt
    chosen          list<struct<content: string, role: string>>   conversation + preferred answer
    rejected        list<struct<content: string, role: string>>   conversation + other answer
    messages        list<struct<content: string, role: string>>   = chosen (prompt only in *_gen)
    score_chosen    float64
    score_rejected  float64

TRL's DPOTrainer reads ``chosen``/``rejected`` as conversational rows with an implicit prompt;
the string ``prompt`` column must be left out (select `TRL_COLUMNS`), or TRL concatenates a
string with a message list: since TRL 0.29 the trainer extracts the shared prompt from
``chosen``/``rejected`` only when there is no ``prompt`` column. `TRL_SCHEMA` is the layout TRL
recommends instead (the ``trl`` export format): an explicit conversational ``prompt`` and
one-turn ``chosen``/``rejected``, which DPOTrainer reads with every column left in.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

TURN = pa.struct([("content", pa.string()), ("role", pa.string())])
CONVERSATION = pa.list_(TURN)

PAIR_SCHEMA = pa.schema(
    [
        ("prompt", pa.string()),
        ("prompt_id", pa.string()),
        ("chosen", CONVERSATION),
        ("rejected", CONVERSATION),
        ("messages", CONVERSATION),
        ("score_chosen", pa.float64()),
        ("score_rejected", pa.float64()),
    ]
)
PAIR_COLUMNS: tuple[str, ...] = tuple(PAIR_SCHEMA.names)

#: Columns binarizing adds for the quality report; never exported.
META_SCHEMA = pa.schema(
    [
        ("chosen_model", pa.string()),
        ("rejected_model", pa.string()),
        ("source", pa.string()),
        ("agreement", pa.float64()),
    ]
)

#: What to hand TRL's DPOTrainer (conversational, implicit prompt), as the alignment handbook does.
TRL_COLUMNS: tuple[str, ...] = ("chosen", "rejected")

#: TRL's explicit-prompt conversational layout: the conversation up to the answer as `prompt`,
#: the answers alone (one assistant turn each) as `chosen`/`rejected`; ids and scores kept.
TRL_SCHEMA = pa.schema(
    [
        ("prompt", CONVERSATION),
        ("chosen", CONVERSATION),
        ("rejected", CONVERSATION),
        ("prompt_id", pa.string()),
        ("score_chosen", pa.float64()),
        ("score_rejected", pa.float64()),
    ]
)

PREFERENCE_SPLITS = ("train_prefs", "test_prefs")
SFT_SPLITS = ("train_sft", "test_sft")
GENERATION_SPLITS = ("train_gen", "test_gen")


def pairs_only(table: pa.Table) -> pa.Table:
    """The exported columns of a table of pairs, in the published order and types."""
    return table.select(list(PAIR_COLUMNS)).cast(PAIR_SCHEMA)


def explicit_prompt(table: pa.Table) -> pa.Table:
    """Pairs (`PAIR_SCHEMA`) in TRL's explicit-prompt layout (`TRL_SCHEMA`).

    ``chosen`` and ``rejected`` share every turn but the last, so the prompt is ``chosen`` less
    its last turn, and each answer is its conversation's last turn.
    """
    chosen = table.column("chosen").combine_chunks()
    starts, ends = _bounds(chosen)
    if len(starts) and (ends - starts).min() < 2:
        raise ValueError("a pair without a prompt turn before its answer cannot be split")
    turns = chosen.flatten()
    keep = np.ones(len(turns), dtype=bool)
    keep[ends - 1] = False
    prompt_offsets = pa.array(np.concatenate([[0], np.cumsum(ends - starts - 1)]), pa.int32())
    prompt = pa.ListArray.from_arrays(prompt_offsets, turns.filter(pa.array(keep)))
    one = pa.array(np.arange(len(starts) + 1), pa.int32())
    answers = {}
    for name in ("chosen", "rejected"):
        column = table.column(name).combine_chunks()
        last = _bounds(column)[1] - 1
        answers[name] = pa.ListArray.from_arrays(one, column.flatten().take(pa.array(last)))
    columns = [
        prompt,
        answers["chosen"],
        answers["rejected"],
        table.column("prompt_id"),
        table.column("score_chosen"),
        table.column("score_rejected"),
    ]
    return pa.Table.from_arrays(columns, schema=TRL_SCHEMA)


def _bounds(conversations: pa.ListArray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's (start, end) into ``conversations.flatten()`` (a slice's offsets rebased)."""
    offsets = conversations.offsets.to_numpy()
    offsets = offsets - offsets[0]
    return offsets[:-1], offsets[1:]
