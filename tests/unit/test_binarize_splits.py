"""Splits: decided by prompt_id alone, in ultrafeedback_binarized's names and columns."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pytest

from zephyr_integrations.preferences.binarize import BinarizeOptions, binarize
from zephyr_integrations.preferences.records import prompt_id
from zephyr_integrations.preferences.schema import PAIR_SCHEMA
from zephyr_integrations.preferences.splits import make_splits


def rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(start, start + n):
        prompt = f"prompt number {i}"
        out.append(
            {
                "prompt_id": prompt_id(prompt),
                "prompt": prompt,
                "messages": [
                    {"role": "system", "content": "sys"},
                    {"role": "user", "content": prompt},
                ],
                "completions": [
                    {"model": "a", "response": f"a{i}", "score": 1.0},
                    {"model": "b", "response": f"b{i}", "score": 2.0},
                    {"model": "c", "response": f"c{i}", "score": 3.0},
                ],
            }
        )
    return out


def ids_by_split(splits: dict[str, pa.Table]) -> dict[str, set[str]]:
    return {name: set(t.column("prompt_id").to_pylist()) for name, t in splits.items()}


def test_a_prompt_keeps_its_split_across_reruns_reorders_and_more_data() -> None:
    data = rows(600)
    first = ids_by_split(make_splits(binarize(data).pairs, test_size=0.1))
    shuffled = data[:]
    random.Random(3).shuffle(shuffled)
    assert ids_by_split(make_splits(binarize(shuffled).pairs, test_size=0.1)) == first
    grown = ids_by_split(make_splits(binarize(data + rows(300, 600)).pairs, test_size=0.1))
    assert first["test_prefs"] <= grown["test_prefs"]
    assert first["train_prefs"] <= grown["train_prefs"]
    assert 30 <= len(first["test_prefs"]) <= 90  # ~10 % of 600


def test_no_prompt_in_two_splits_even_with_several_pairs_per_prompt() -> None:
    result = binarize(rows(300), BinarizeOptions(strategy="all_pairs"))
    splits = make_splits(result.pairs, test_size=0.2)
    assert sum(t.num_rows for t in splits.values()) == result.pairs.num_rows == 900
    ids = ids_by_split(splits)
    assert not ids["train_prefs"] & ids["test_prefs"]
    assert ids["train_prefs"] | ids["test_prefs"] == set(
        result.pairs.column("prompt_id").to_pylist()
    )


def test_sft_and_gen_splits_on_request() -> None:
    result = binarize(rows(200), BinarizeOptions(strategy="all_pairs"))
    assert set(make_splits(result.pairs)) == {"train_prefs", "test_prefs"}
    splits = make_splits(result.pairs, test_size=0.25, sft=True, gen=True)
    assert list(splits) == [
        "train_prefs", "test_prefs", "train_sft", "test_sft", "train_gen", "test_gen"
    ]  # fmt: skip
    for part in ("train", "test"):
        prefs, sft, gen = (splits[f"{part}_{kind}"] for kind in ("prefs", "sft", "gen"))
        assert sft.num_rows == len(set(prefs.column("prompt_id").to_pylist()))
        assert gen.column("prompt_id").to_pylist() == sft.column("prompt_id").to_pylist()
        for s, g in zip(sft.to_pylist(), gen.to_pylist(), strict=True):
            assert s["messages"] == s["chosen"]
            assert s["messages"][-1]["role"] == "assistant"
            assert g["messages"] == s["chosen"][:-1]
            assert [t["role"] for t in g["messages"]] == ["system", "user"]
    for table in splits.values():
        assert table.schema.equals(PAIR_SCHEMA)


@pytest.mark.parametrize("size", [-0.1, 1.0, 2])
def test_test_size_must_be_a_fraction(size: float) -> None:
    with pytest.raises(ValueError, match="test_size"):
        make_splits(binarize(rows(3)).pairs, test_size=size)
