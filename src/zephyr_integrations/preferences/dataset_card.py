"""The dataset card (README.md) of an exported folder: YAML metadata the Hub and `datasets` read
(license, `configs` pointing at the Parquet shards, features, counts per split), then prose
saying how the pairs were made and what was dropped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import yaml

from zephyr_integrations.preferences.binarize import BinarizeResult


def features(layout: str = "ultrafeedback_binarized") -> list[dict[str, Any]]:
    """The columns as the card's ``dataset_info.features`` (fresh objects: YAML must not alias);
    ``layout`` "trl" is TRL's explicit-prompt layout (`TRL_SCHEMA`)."""

    def turns() -> list[dict[str, str]]:
        return [{"name": "content", "dtype": "string"}, {"name": "role", "dtype": "string"}]

    if layout == "trl":
        return [
            {"name": "prompt", "list": turns()},
            {"name": "chosen", "list": turns()},
            {"name": "rejected", "list": turns()},
            {"name": "prompt_id", "dtype": "string"},
            {"name": "score_chosen", "dtype": "float64"},
            {"name": "score_rejected", "dtype": "float64"},
        ]
    return [
        {"name": "prompt", "dtype": "string"},
        {"name": "prompt_id", "dtype": "string"},
        {"name": "chosen", "list": turns()},
        {"name": "rejected", "list": turns()},
        {"name": "messages", "list": turns()},
        {"name": "score_chosen", "dtype": "float64"},
        {"name": "score_rejected", "dtype": "float64"},
    ]


@dataclass(frozen=True)
class Provenance:
    """How a dataset was made: written into its card (and provenance.json where there is none)."""

    strategy: str = "zephyr"
    min_margin: float = 0.0
    ties: str = "keep"
    seed: int = 42
    score_range: tuple[float, float] | None = None  # one range for all records, if given
    #: What the binarized scores mean: one {meaning, low, high} per scale the pairs came from.
    scales: tuple[dict[str, Any], ...] = ()
    test_size: float = 0.0
    records: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    unscored_answers: int = 0
    sources: dict[str, int] = field(default_factory=dict)  # pairs by source: human / ai
    license: str = "apache-2.0"
    pretty_name: str = "Preference pairs (ultrafeedback_binarized format)"

    @classmethod
    def from_result(cls, result: BinarizeResult, *, test_size: float, **card: Any) -> Provenance:
        o = result.options
        sources = result.pairs.column("source").value_counts().to_pylist()
        return cls(
            strategy=o.strategy,
            min_margin=o.min_margin,
            ties=o.ties,
            seed=o.seed,
            score_range=o.score_range,
            scales=tuple(result.summary()["scales"]),
            test_size=test_size,
            records=result.records,
            dropped=dict(sorted(result.dropped.items())),
            unscored_answers=result.unscored_answers,
            sources={str(s["values"] or "unknown"): s["counts"] for s in sources},
            **card,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def card_metadata(
    splits: Mapping[str, pa.Table], about: Provenance, layout: str = "ultrafeedback_binarized"
) -> dict[str, Any]:
    """The YAML header: what `datasets.load_dataset(folder)` and the Hub read."""
    return {
        "license": about.license,
        "pretty_name": about.pretty_name,
        "task_categories": ["text-generation"],
        "tags": ["dpo", "preference", f"{layout}-format", "zephyr-integrations"],
        "size_categories": [_size_category(sum(t.num_rows for t in splits.values()))],
        "configs": [
            {
                "config_name": "default",
                "data_files": [
                    {"split": name, "path": f"data/{name}-*.parquet"} for name in splits
                ],
            }
        ],
        "dataset_info": {
            "features": features(layout),
            "splits": [
                {"name": name, "num_bytes": t.nbytes, "num_examples": t.num_rows}
                for name, t in splits.items()
            ],
        },
    }


def _span(low: float | None, high: float | None) -> str:
    """A scale's range in words (None: open on that side)."""
    if low is None and high is None:
        return "unbounded"
    if low is None:
        return f"at most {high:g}"
    if high is None:
        return f"at least {low:g}"
    return f"from {low:g} to {high:g}"


def _size_category(rows: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if rows < limit:
            return name
    return "100K<n<1M" if rows < 1_000_000 else "n>1M"


_RULES = {
    "zephyr": "the highest score is chosen (the first on a tie) and the rejected answer is drawn "
    "at random from the others, seeded per `prompt_id` (the rule of "
    "HuggingFaceH4/ultrafeedback_binarized)",
    "best_vs_worst": "the highest score is chosen and the lowest rejected (the first on a tie)",
    "all_pairs": "every pair of answers is kept, the higher score chosen",
}


_LAYOUTS = {
    "ultrafeedback_binarized": """\
Preference pairs for DPO in the schema of HuggingFaceH4/ultrafeedback_binarized: `prompt`,
`prompt_id` (SHA-256 of the prompt), `chosen`, `rejected` and `messages` (lists of
`{role, content}`; `messages` is the chosen conversation, or the prompt alone in `*_gen`),
`score_chosen`, `score_rejected` (float64).""",
    "trl": """\
Preference pairs for DPO in TRL's explicit-prompt conversational layout: `prompt` (the
conversation up to the answer, a list of `{role, content}`), `chosen` and `rejected` (the
assistant's answer alone, one turn each), `prompt_id` (SHA-256 of the last user turn),
`score_chosen`, `score_rejected` (float64).""",
}

_USES = {
    "ultrafeedback_binarized": """\
# TRL's DPOTrainer: conversational rows with an implicit prompt (since TRL 0.29 a `prompt`
# column stops the trainer from extracting the shared prompt, so leave it out).
train = pairs.select_columns(["chosen", "rejected"])""",
    "trl": """\
# TRL's DPOTrainer reads these rows as they are, every column left in.
train = pairs""",
}


def render_card(
    splits: Mapping[str, pa.Table],
    about: Provenance,
    *,
    empty: Sequence[str] = (),
    layout: str = "ultrafeedback_binarized",
) -> str:
    """The whole README.md (``empty``: splits left out because they hold no rows)."""
    metadata = card_metadata(splits, about, layout)
    header = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True)
    rule = _RULES.get(about.strategy, f"the `{about.strategy}` strategy (a plugin)")
    counts = "\n".join(f"| `{name}` | {t.num_rows:,} |" for name, t in splits.items())
    counts += "".join(f"\n| `{name}` | 0 (left out) |" for name in empty)
    dropped = (
        "\n".join(f"| {reason} | {n:,} |" for reason, n in about.dropped.items())
        or "| (none) | 0 |"
    )
    sources = ", ".join(f"{n:,} from {s} feedback" for s, n in about.sources.items()) or "none"
    if about.score_range is not None:
        low, high = about.score_range
        valid = f"scores outside [{low:g}, {high:g}] make a record invalid"
    else:
        valid = "a score outside its record's own scale makes the record invalid"
    scored = "\n".join(f"- {s['meaning']} ({_span(s['low'], s['high'])})" for s in about.scales)
    ties = "kept" if about.ties == "keep" else "dropped"
    return f"""---
{header}---

# {about.pretty_name}

{_LAYOUTS[layout]}

## How it was made

Made with zephyr-integrations (`zephyr export`) from {about.records:,} prompts with scored
answers. Pairs: {rule}. Minimum score margin {about.min_margin:g}; equal scores {ties};
{valid}; seed {about.seed}. Pairs by source:
{sources}. Answers without a score were skipped ({about.unscored_answers:,}); identical chosen
and rejected answers are never a pair.

The scores compared (`score_chosen`, `score_rejected`) are:

{scored or "- (no pairs)"}

A prompt's split is fixed by a hash of its `prompt_id` (test share {about.test_size:.4f}), so a
prompt is never in two splits and a re-run gives the same split.

| split | rows |
|---|---|
{counts}

Records that gave no pair, by reason:

| reason | records |
|---|---|
{dropped}

## Use

```python
from datasets import load_dataset

pairs = load_dataset("path/or/repo", split="train_prefs")
{_USES[layout]}
```

License: {about.license}.
"""
