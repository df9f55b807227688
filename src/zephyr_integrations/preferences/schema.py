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
string with a message list.
"""

from __future__ import annotations

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

PREFERENCE_SPLITS = ("train_prefs", "test_prefs")
SFT_SPLITS = ("train_sft", "test_sft")
GENERATION_SPLITS = ("train_gen", "test_gen")


def pairs_only(table: pa.Table) -> pa.Table:
    """The exported columns of a table of pairs, in the published order and types."""
    return table.select(list(PAIR_COLUMNS)).cast(PAIR_SCHEMA)
