"""Binarizing: the strategies' rules, the pair policy, and bad records counted by reason."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zephyr_integrations.preferences.binarize import BinarizeOptions, binarize
from zephyr_integrations.preferences.records import prompt_id
from zephyr_integrations.preferences.strategies import DROP_REASONS


def row(scores: list[Any], *, prompt: str = "p", texts: list[str] | None = None) -> dict[str, Any]:
    texts = texts or [f"answer {k}" for k in range(len(scores))]
    return {
        "prompt_id": prompt_id(prompt),
        "prompt": prompt,
        "messages": [{"role": "user", "content": prompt}],
        "source": "ai",
        "completions": [
            {"model": f"m{k}", "response": t, "score": s}
            for k, (t, s) in enumerate(zip(texts, scores, strict=True))
        ],
    }


def pairs(rows: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    return binarize(rows, BinarizeOptions(**options)).pairs.to_pylist()


def answer(conversation: list[dict[str, str]]) -> str:
    assert conversation[-1]["role"] == "assistant"
    return conversation[-1]["content"]


def test_zephyr_chooses_the_highest_and_a_random_other() -> None:
    rows = [row([3.0, 8.0, 5.0, 1.0], prompt=f"q{i}") for i in range(200)]
    out = pairs(rows)
    assert len(out) == 200
    assert {answer(p["chosen"]) for p in out} == {"answer 1"}
    assert {p["score_chosen"] for p in out} == {8.0}
    # The rejected answer is drawn from all three others, roughly evenly.
    drawn = Counter(answer(p["rejected"]) for p in out)
    assert set(drawn) == {"answer 0", "answer 2", "answer 3"}
    assert min(drawn.values()) > 40


def test_zephyr_takes_the_first_best_on_a_tie_and_keeps_equal_pairs_by_default() -> None:
    out = pairs([row([7.0, 7.0], prompt="tie")])
    assert answer(out[0]["chosen"]) == "answer 0"
    assert answer(out[0]["rejected"]) == "answer 1"
    assert out[0]["score_chosen"] == out[0]["score_rejected"] == 7.0


def test_zephyr_draw_depends_on_prompt_id_not_row_order() -> None:
    rows = [row([1.0, 2.0, 3.0, 4.0, 5.0], prompt=f"q{i}") for i in range(100)]
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    by_id = {p["prompt_id"]: p for p in pairs(rows)}
    assert {p["prompt_id"]: p for p in pairs(shuffled)} == by_id
    assert {p["prompt_id"]: p for p in pairs(rows[:10])} == {
        k: v for k, v in by_id.items() if k in {r["prompt_id"] for r in rows[:10]}
    }
    other_seed = {p["prompt_id"]: p for p in pairs(rows, seed=7)}
    assert other_seed != by_id


def test_ties_drop_draws_only_strictly_lower_answers() -> None:
    rows = [row([5.0, 5.0, 2.0], prompt=f"q{i}") for i in range(50)]
    out = pairs(rows, ties="drop")
    assert {answer(p["rejected"]) for p in out} == {"answer 2"}
    result = binarize([row([4.0, 4.0, 4.0])], BinarizeOptions(ties="drop"))
    assert result.pairs.num_rows == 0
    assert result.dropped == Counter({"tie": 1})


def test_min_margin_keeps_only_wide_enough_pairs() -> None:
    rows = [row([9.0, 8.5, 6.0, 2.0], prompt=f"q{i}") for i in range(60)]
    out = pairs(rows, min_margin=2.0)
    assert {answer(p["rejected"]) for p in out} == {"answer 2", "answer 3"}
    assert all(p["score_chosen"] - p["score_rejected"] >= 2.0 for p in out)
    result = binarize([row([5.0, 4.5, 4.0])], BinarizeOptions(min_margin=1.5))
    assert result.dropped == Counter({"below_margin": 1})


def test_best_vs_worst() -> None:
    out = pairs([row([4.0, 9.0, 1.0, 1.0, 9.0])], strategy="best_vs_worst")
    assert (answer(out[0]["chosen"]), answer(out[0]["rejected"])) == ("answer 1", "answer 2")
    assert (out[0]["score_chosen"], out[0]["score_rejected"]) == (9.0, 1.0)


def test_all_pairs_gives_every_ordered_pair_once() -> None:
    out = pairs([row([1.0, 3.0, 2.0, 4.0])], strategy="all_pairs")
    assert len(out) == 6
    assert all(p["score_chosen"] > p["score_rejected"] for p in out)
    assert len({(answer(p["chosen"]), answer(p["rejected"])) for p in out}) == 6
    with_ties = pairs([row([2.0, 2.0, 1.0])], strategy="all_pairs")
    assert len(with_ties) == 3
    assert len(pairs([row([2.0, 2.0, 1.0])], strategy="all_pairs", ties="drop")) == 2


def test_identical_answers_are_never_a_pair() -> None:
    texts = ["same", "same", "different"]
    rows = [row([9.0, 5.0, 1.0], prompt=f"q{i}", texts=texts) for i in range(30)]
    for strategy in ("zephyr", "best_vs_worst", "all_pairs"):
        out = pairs(rows, strategy=strategy)
        assert out
        assert all(answer(p["chosen"]) != answer(p["rejected"]) for p in out)
    result = binarize([row([9.0, 5.0], texts=["same", "same"])])
    assert result.dropped == Counter({"chosen_equals_rejected": 1})


BAD = [
    ({"prompt": "x", "completions": []}, "malformed", "prompt_id"),
    ({**row([1.0, 2.0]), "completions": "nope"}, "malformed", "completions"),
    ({**row([1.0, 2.0]), "messages": [{"role": "user"}]}, "malformed", "messages"),
    (row([1.0, "high"]), "malformed", "completions[1].score"),
    (row([1.0, True]), "malformed", "completions[1].score"),
    ("not an object", "malformed", "str"),
    (row([5.0]), "fewer_than_two_answers", ""),
    (row([]), "fewer_than_two_answers", ""),
    (row([None, None, None]), "no_scores", ""),
    (row([None, 3.0]), "no_scores", ""),
    (row([2.0, math.nan, 1.0]), "nan_score", ""),
    (row([2.0, math.inf]), "nan_score", ""),
    (row([2.0, 11.0]), "out_of_range_score", ""),
    (row([0.0, 3.0]), "out_of_range_score", ""),
    (row([4.0, 4.0], texts=["a", "a"]), "chosen_equals_rejected", ""),
]


@pytest.mark.parametrize(("record", "reason", "field"), BAD)
def test_bad_record_is_counted_by_reason_never_a_pair(record: Any, reason: str, field: str) -> None:
    good = [row([2.0, 6.0], prompt="good one"), row([7.0, 3.0], prompt="good two")]
    result = binarize([good[0], record, good[1]])
    assert result.dropped == Counter({reason: 1})
    assert reason in DROP_REASONS
    assert result.pairs.num_rows == 2
    assert result.pairs.column("prompt").to_pylist() == ["good one", "good two"]
    (label,) = result.examples[reason]
    assert label.startswith("record 2")
    assert field in label


def test_unscored_answers_are_skipped_and_counted() -> None:
    result = binarize([row([None, 4.0, 8.0])])
    assert result.unscored_answers == 1
    (pair,) = result.pairs.to_pylist()
    assert (answer(pair["chosen"]), answer(pair["rejected"])) == ("answer 2", "answer 1")


def test_score_range_is_configurable() -> None:
    rows = [row([0.0, 0.5, 1.0])]
    assert binarize(rows).dropped == Counter({"out_of_range_score": 1})
    assert binarize(rows, BinarizeOptions(score_range=(0.0, 1.0))).pairs.num_rows == 1


def test_conversation_prefix_is_kept_and_messages_equal_chosen() -> None:
    record = row([1.0, 2.0], prompt="and now?")
    record["messages"] = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "and now?"},
    ]
    (pair,) = pairs([record])
    assert pair["chosen"][:4] == [
        {"content": t["content"], "role": t["role"]} for t in record["messages"]
    ]
    assert pair["rejected"][:4] == pair["chosen"][:4]
    assert pair["messages"] == pair["chosen"]
    assert pair["prompt"] == "and now?"


def test_bad_options_are_refused_up_front() -> None:
    with pytest.raises(ValueError, match="min_margin"):
        BinarizeOptions(min_margin=-1)
    with pytest.raises(ValueError, match="ties"):
        BinarizeOptions(ties="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'nope' is not built in"):
        binarize([row([1.0, 2.0])], BinarizeOptions(strategy="nope"))


scores = st.one_of(
    st.none(),
    st.floats(min_value=-1, max_value=12),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.integers(min_value=0, max_value=11),
)
records = st.lists(
    st.tuples(st.lists(scores, max_size=5), st.lists(st.sampled_from("abc"), max_size=5)),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    records,
    st.sampled_from(["zephyr", "best_vs_worst", "all_pairs"]),
    st.sampled_from([0.0, 0.5, 2.0]),
    st.sampled_from(["keep", "drop"]),
)
def test_every_pair_obeys_the_policy_and_every_record_is_accounted_for(
    data: list[tuple[list[Any], list[str]]], strategy: str, margin: float, ties: str
) -> None:
    rows = []
    for i, (score_list, letters) in enumerate(data):
        texts = [letters[k] if k < len(letters) else f"t{k}" for k in range(len(score_list))]
        rows.append(row(score_list, prompt=f"prompt {i}", texts=texts))
    result = binarize(rows, BinarizeOptions(strategy, margin, ties))  # type: ignore[arg-type]
    out = result.pairs.to_pylist()
    for p in out:
        assert answer(p["chosen"]) != answer(p["rejected"])
        assert 1.0 <= p["score_rejected"] <= p["score_chosen"] <= 10.0
        assert p["score_chosen"] - p["score_rejected"] >= margin
        if ties == "drop":
            assert p["score_chosen"] > p["score_rejected"]
    with_pairs = len({p["prompt_id"] for p in out})
    assert with_pairs + sum(result.dropped.values()) == len(rows)
    assert set(result.dropped) <= set(DROP_REASONS)
