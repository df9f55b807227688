"""PreferenceRow -> (chosen, rejected) pairs: one Arrow table in ultrafeedback_binarized's schema.

Each record is checked first; a record that cannot give a pair is counted under one reason of
`DROP_REASONS` (with the first few record labels as examples) and never becomes a pair. Scores
are checked against the record's own `scale` (a ranking's Borda points, a pairwise vote, an
aspect mean), unless the options name one range for all; a record without a scale is taken to be
on UltraFeedback's 1-10. Answers
without a score are skipped (and counted) as `Completion` says. Rows are built column by column
(plain lists, then Arrow arrays): 64k prompts take well under a second, no `datasets.map`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, NamedTuple

import pyarrow as pa

from zephyr_integrations.preferences.records import parse_scale
from zephyr_integrations.preferences.schema import CONVERSATION, META_SCHEMA, PAIR_SCHEMA, TURN
from zephyr_integrations.preferences.stages import preference_problem
from zephyr_integrations.preferences.strategies import (
    BUILTIN_BINARIZERS,
    Answers,
    Binarizer,
    PairPolicy,
    TiePolicy,
)

#: The scale of a record that names none: UltraFeedback's overall_score (1-10).
DEFAULT_SCORE_RANGE = (1.0, 10.0)
DEFAULT_SCALE_MEANING = "unnamed scores, taken to be on UltraFeedback's overall_score scale"
MAX_EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class BinarizeOptions:
    """How pairs are made: the strategy's name, the pair policy, the seed, and the valid scores
    (``score_range``: one range for every record; None, the default: each record's own scale)."""

    strategy: str = "zephyr"
    min_margin: float = 0.0
    ties: TiePolicy = "keep"
    seed: int = 42
    score_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        PairPolicy(self.min_margin, self.ties)  # validates both
        if self.score_range is not None:
            low, high = self.score_range
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(
                    f"score_range must be two finite numbers, low < high: {low}, {high}"
                )


@dataclass
class BinarizeResult:
    """The pairs (exported columns plus the report's), and what was dropped and why."""

    pairs: pa.Table
    records: int
    options: BinarizeOptions
    dropped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    unscored_answers: int = 0
    #: The scales of the records that gave pairs: meaning -> (low, high), in first-seen order
    #: (an open bound is -inf / inf here, None in `summary`).
    scales: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def prompts(self) -> int:
        """Prompts that gave at least one pair."""
        return len(set(self.pairs.column("prompt_id").to_pylist()))

    def summary(self) -> dict[str, Any]:
        """Counts, as plain JSON-ready values."""
        return {
            "records": self.records,
            "prompts_with_pairs": self.prompts,
            "pairs": self.pairs.num_rows,
            "dropped": dict(sorted(self.dropped.items())),
            "dropped_examples": self.examples,
            "unscored_answers_skipped": self.unscored_answers,
            "scales": [
                {"meaning": meaning, "low": _bound(low), "high": _bound(high)}
                for meaning, (low, high) in self.scales.items()
            ],
        }


def _bound(value: float) -> float | None:
    """A scale's bound as JSON writes it: None for an open (infinite) one."""
    return value if math.isfinite(value) else None


class _Columns:
    """The output rows, column by column. chosen and rejected share the conversation prefix, so
    they share offsets and roles; only the contents of the last turn differ."""

    def __init__(self) -> None:
        self.prompt: list[str] = []
        self.prompt_id: list[str] = []
        self.score_chosen: list[float] = []
        self.score_rejected: list[float] = []
        self.chosen_model: list[str] = []
        self.rejected_model: list[str] = []
        self.source: list[str] = []
        self.agreement: list[float | None] = []
        self.offsets: list[int] = [0]
        self.roles: list[str] = []
        self.chosen_text: list[str] = []
        self.rejected_text: list[str] = []

    def add(
        self,
        record: Mapping[str, Any],
        turns: list[tuple[str, str]],
        chosen: tuple[str, str, float],
        rejected: tuple[str, str, float],
    ) -> None:
        self.prompt.append(record["prompt"])
        self.prompt_id.append(record["prompt_id"])
        self.source.append(record.get("source") or "")
        self.agreement.append(record.get("agreement"))
        for role, content in turns:
            self.roles.append(role)
            self.chosen_text.append(content)
            self.rejected_text.append(content)
        self.roles.append("assistant")
        self.chosen_text.append(chosen[1])
        self.rejected_text.append(rejected[1])
        self.offsets.append(len(self.roles))
        self.chosen_model.append(chosen[0])
        self.rejected_model.append(rejected[0])
        self.score_chosen.append(chosen[2])
        self.score_rejected.append(rejected[2])

    def table(self) -> pa.Table:
        offsets = pa.array(self.offsets, pa.int32())
        roles = pa.array(self.roles, pa.string())

        def conversation(contents: list[str]) -> pa.Array:
            turns = pa.StructArray.from_arrays(
                [pa.array(contents, pa.string()), roles], fields=list(TURN)
            )
            return pa.ListArray.from_arrays(offsets, turns, type=CONVERSATION)

        chosen = conversation(self.chosen_text)
        columns = [
            pa.array(self.prompt, pa.string()),
            pa.array(self.prompt_id, pa.string()),
            chosen,
            conversation(self.rejected_text),
            chosen,  # messages = the chosen conversation, as in ultrafeedback_binarized
            pa.array(self.score_chosen, pa.float64()),
            pa.array(self.score_rejected, pa.float64()),
            pa.array(self.chosen_model, pa.string()),
            pa.array(self.rejected_model, pa.string()),
            pa.array(self.source, pa.string()),
            pa.array(self.agreement, pa.float64()),
        ]
        schema = pa.schema(list(PAIR_SCHEMA) + list(META_SCHEMA))
        return pa.Table.from_arrays(columns, schema=schema)


def _is_number(x: Any) -> bool:
    return type(x) is float or type(x) is int or (isinstance(x, Real) and not isinstance(x, bool))


class _Parsed(NamedTuple):
    turns: list[tuple[str, str]]
    scored: list[tuple[str, str, float]]  # (model, response, score) of the scored answers
    unscored: int
    problem: str  # a drop reason found while reading, or ""


def _parse(record: Mapping[str, Any], low: float, high: float) -> _Parsed:
    """Read one PreferenceRow; raises KeyError/TypeError/AttributeError if it is not one."""
    if type(record["prompt_id"]) is not str or type(record["prompt"]) is not str:
        raise TypeError
    agreement = record.get("agreement")
    if agreement is not None and not _is_number(agreement):
        raise TypeError
    messages = record.get("messages")
    if messages:
        turns = [(t["role"], t["content"]) for t in messages]
        for role, content in turns:
            if type(role) is not str or type(content) is not str:
                raise TypeError
    else:
        turns = [("user", record["prompt"])]
    completions = record["completions"]
    if type(completions) is not list:
        raise TypeError
    scored: list[tuple[str, str, float]] = []
    unscored = 0
    problem = "" if len(completions) >= 2 else "fewer_than_two_answers"
    for c in completions:
        response = c["response"]
        model = c.get("model", "")
        score = c.get("score")
        if type(response) is not str or type(model) is not str:
            raise TypeError
        if score is None:
            unscored += 1
            continue
        if not _is_number(score):
            raise TypeError
        value = float(score)
        if not math.isfinite(value):
            problem = problem or "nan_score"
        elif not low <= value <= high:
            problem = problem or "out_of_range_score"
        scored.append((model, response, value))
    if not problem and len(scored) < 2:
        problem = "no_scores"
    return _Parsed(turns, scored, unscored, problem)


def _label(index: int, record: Mapping[str, Any]) -> str:
    return f"record {index + 1} (prompt_id {record['prompt_id']})"


def binarize(
    rows: Iterable[Mapping[str, Any]],
    options: BinarizeOptions | None = None,
    *,
    strategy: Binarizer | None = None,
) -> BinarizeResult:
    """Turn PreferenceRows into pairs with ``strategy`` (default: the built-in strategy named by
    ``options.strategy``; a plugin's is looked up with ``plugins.get_binarizer`` and passed).

    Nothing here raises on a bad record: it is counted under its reason and skipped.
    """
    if options is None:
        options = BinarizeOptions()
    if strategy is None:
        if options.strategy not in BUILTIN_BINARIZERS:
            raise ValueError(
                f"strategy {options.strategy!r} is not built in: pass "
                f"strategy=zephyr_integrations.plugins.get_binarizer({options.strategy!r})"
            )
        strategy = BUILTIN_BINARIZERS[options.strategy]
    policy = PairPolicy(options.min_margin, options.ties)
    columns = _Columns()
    scales: dict[str, tuple[float, float]] = {}
    dropped: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    unscored = 0
    records = 0

    def drop(reason: str, label: str) -> None:
        dropped[reason] += 1
        seen = examples.setdefault(reason, [])
        if len(seen) < MAX_EXAMPLES:
            seen.append(label)

    for index, record in enumerate(rows):
        records += 1
        try:
            low, high, meaning = _range(record, options)
            parsed = _parse(record, low, high)
        except (KeyError, TypeError, AttributeError, ValueError):
            problem = preference_problem(record) or "not a PreferenceRow"
            drop("malformed", f"record {index + 1}: {problem}")
            continue
        unscored += parsed.unscored
        if parsed.problem:
            drop(parsed.problem, _label(index, record))
            continue
        scored = parsed.scored
        answers = Answers(
            record["prompt_id"],
            [s for _, _, s in scored],
            [r for _, r, _ in scored],
            options.seed,
        )
        outcome = strategy(answers, policy)
        if isinstance(outcome, str):
            drop(outcome, _label(index, record))
            continue
        turns = parsed.turns
        added = 0
        for chosen, rejected in outcome:
            if chosen == rejected or scored[chosen][1] == scored[rejected][1]:
                continue  # a plugin's pair of identical answers is never exported
            columns.add(record, turns, scored[chosen], scored[rejected])
            added += 1
        if not added:
            drop("chosen_equals_rejected", _label(index, record))
        else:
            scales.setdefault(meaning, (low, high))
    return BinarizeResult(
        pairs=columns.table(),
        records=records,
        options=options,
        dropped=dropped,
        examples=examples,
        unscored_answers=unscored,
        scales=scales,
    )


def _range(record: Mapping[str, Any], options: BinarizeOptions) -> tuple[float, float, str]:
    """The valid scores of ``record`` and what they mean; raises ValueError on a bad scale."""
    if options.score_range is not None:
        low, high = options.score_range
        return low, high, f"scores on the range given to binarize, [{low:g}, {high:g}]"
    if "scale" not in record:
        return (*DEFAULT_SCORE_RANGE, DEFAULT_SCALE_MEANING)
    scale = parse_scale(record["scale"])
    if scale is None:
        raise ValueError
    return scale
