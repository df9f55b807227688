"""A quality report of binarized pairs: PNG plots and a short summary (JSON and Markdown).

What it measures: the score distributions of chosen and rejected answers, the margins between
them, length bias (how often the chosen answer is the longer one: a reward model learns length
if it can), each model's win rate (chosen / times in a pair), and annotator agreement where the
PreferenceRows carried it. Plots are drawn with matplotlib's Agg canvas (no display needed).
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zephyr_integrations.preferences.binarize import BinarizeResult
from zephyr_integrations.preferences.splits import first_per_prompt
from zephyr_integrations.staging import atomic_folder


def _stats(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "min": None, "max": None}
    return {
        "mean": round(statistics.fmean(values), 4),
        "median": round(statistics.median(values), 4),
        "min": min(values),
        "max": max(values),
    }


def answer_lengths(conversations: pa.ChunkedArray | pa.Array) -> list[int]:
    """Characters in the last turn (the answer) of each conversation."""
    array = (
        conversations.combine_chunks()
        if isinstance(conversations, pa.ChunkedArray)
        else conversations
    )
    if len(array) == 0:
        return []
    last = pa.array(np.asarray(array.offsets)[1:] - 1, pa.int64())
    contents = array.values.field("content").take(last)
    return [int(n) for n in pc.utf8_length(contents).to_pylist()]


def win_rates(chosen: Sequence[str], rejected: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per model: pairs won (chosen), lost (rejected), and the share won; best first."""
    won, lost = Counter(chosen), Counter(rejected)
    table = {
        model or "unknown": {
            "chosen": won[model],
            "rejected": lost[model],
            "win_rate": round(won[model] / (won[model] + lost[model]), 4),
        }
        for model in set(won) | set(lost)
    }
    return dict(sorted(table.items(), key=lambda kv: (-kv[1]["win_rate"], kv[0])))


def summarize(result: BinarizeResult) -> dict[str, Any]:
    """Every figure of the report, as plain JSON-ready values."""
    pairs = result.pairs
    chosen = pairs.column("score_chosen").to_pylist()
    rejected = pairs.column("score_rejected").to_pylist()
    margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
    chosen_len = answer_lengths(pairs.column("chosen"))
    rejected_len = answer_lengths(pairs.column("rejected"))
    n = len(margins)
    longer = sum(c > r for c, r in zip(chosen_len, rejected_len, strict=True))
    equal = sum(c == r for c, r in zip(chosen_len, rejected_len, strict=True))
    per_prompt = first_per_prompt(pairs).column("agreement").to_pylist()
    agreement = [a for a in per_prompt if a is not None]
    return {
        **result.summary(),
        "strategy": result.options.strategy,
        "min_margin": result.options.min_margin,
        "ties": result.options.ties,
        "score_chosen": _stats(chosen),
        "score_rejected": _stats(rejected),
        "margin": {**_stats(margins), "ties": sum(m == 0 for m in margins)},
        "length_bias": {
            "chosen_longer": round(longer / n, 4) if n else None,
            "same_length": round(equal / n, 4) if n else None,
            "chosen_shorter": round((n - longer - equal) / n, 4) if n else None,
            "mean_chars_chosen": _stats([float(x) for x in chosen_len])["mean"],
            "mean_chars_rejected": _stats([float(x) for x in rejected_len])["mean"],
        },
        "win_rates": win_rates(
            pairs.column("chosen_model").to_pylist(), pairs.column("rejected_model").to_pylist()
        ),
        "agreement": {"prompts_with_agreement": len(agreement), **_stats(agreement)},
    }


def _plots(result: BinarizeResult, summary: dict[str, Any], folder: Path) -> list[str]:
    from matplotlib.figure import Figure

    pairs = result.pairs
    chosen = pairs.column("score_chosen").to_numpy()
    rejected = pairs.column("score_rejected").to_numpy()
    written = []

    def save(fig: Figure, name: str) -> None:
        fig.tight_layout()
        fig.savefig(folder / name, dpi=100)
        written.append(name)

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ranges = list(result.scales.values()) or [result.options.score_range or (1.0, 10.0)]
    low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
    if not (math.isfinite(low) and math.isfinite(high)):  # an unbounded scale: the data's span
        seen = np.concatenate([chosen, rejected])
        low = low if math.isfinite(low) else float(seen.min())
        high = high if math.isfinite(high) else float(seen.max())
        high = high if high > low else low + 1.0
    bins = [float(x) for x in np.linspace(low, high, 19)]
    ax.hist([chosen, rejected], bins=bins, label=["chosen", "rejected"])
    ax.set(title="Scores of chosen and rejected answers", xlabel="score", ylabel="pairs")
    ax.legend()
    save(fig, "scores.png")

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.hist(chosen - rejected, bins=20, color="tab:green")
    ax.set(title="Score margin (chosen - rejected)", xlabel="margin", ylabel="pairs")
    save(fig, "margins.png")

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.scatter(
        answer_lengths(pairs.column("rejected")), answer_lengths(pairs.column("chosen")), s=4
    )
    bias = summary["length_bias"]["chosen_longer"]
    share = "n/a" if bias is None else f"{bias:.0%}"
    ax.set(
        title=f"Answer length (chosen longer in {share} of pairs)",
        xlabel="rejected (characters)",
        ylabel="chosen (characters)",
    )
    limit = max(ax.get_xlim()[1], ax.get_ylim()[1])
    ax.plot([0, limit], [0, limit], color="grey", linewidth=1)
    save(fig, "length_bias.png")

    rates = summary["win_rates"]
    fig = Figure(figsize=(6, max(2.5, 0.4 * len(rates) + 1)))
    ax = fig.add_subplot()
    ax.barh(list(rates)[::-1], [r["win_rate"] for r in rates.values()][::-1])
    ax.set(title="Win rate per model", xlabel="chosen / pairs it is in", xlim=(0, 1))
    save(fig, "win_rates.png")

    agreement = [
        a for a in first_per_prompt(pairs).column("agreement").to_pylist() if a is not None
    ]
    if agreement:
        fig = Figure(figsize=(6, 4))
        ax = fig.add_subplot()
        ax.hist(agreement, bins=20, color="tab:purple")
        ax.set(title="Annotator agreement per prompt", xlabel="agreement", ylabel="prompts")
        save(fig, "agreement.png")
    return written


def render_markdown(summary: dict[str, Any], plots: Sequence[str]) -> str:
    """The summary as a short Markdown page."""
    s = summary
    bias = s["length_bias"]
    lines = [
        "# Preference data quality report",
        "",
        f"{s['records']:,} records -> {s['pairs']:,} pairs from {s['prompts_with_pairs']:,} "
        f"prompts (strategy `{s['strategy']}`, min margin {s['min_margin']:g}, ties {s['ties']}).",
        "",
        "| | mean | median | min | max |",
        "|---|---|---|---|---|",
    ]
    for key in ("score_chosen", "score_rejected", "margin"):
        v = s[key]
        lines.append(f"| {key} | {v['mean']} | {v['median']} | {v['min']} | {v['max']} |")
    lines += [
        "",
        f"Length bias: the chosen answer is longer in {bias['chosen_longer']} of pairs "
        f"(same length {bias['same_length']}); mean characters {bias['mean_chars_chosen']} "
        f"chosen vs {bias['mean_chars_rejected']} rejected.",
        "",
        "| model | chosen | rejected | win rate |",
        "|---|---|---|---|",
        *(
            f"| {m} | {r['chosen']} | {r['rejected']} | {r['win_rate']} |"
            for m, r in s["win_rates"].items()
        ),
        "",
        f"Annotator agreement: {s['agreement']['prompts_with_agreement']} prompts carry it; "
        f"mean {s['agreement']['mean']}, min {s['agreement']['min']}.",
        "",
        "Dropped records by reason: "
        + (", ".join(f"{k} {v}" for k, v in s["dropped"].items()) or "none")
        + f"; unscored answers skipped: {s['unscored_answers_skipped']}.",
        "",
        *(f"![{name}]({name})" for name in plots),
        "",
    ]
    return "\n".join(lines)


def write_report(result: BinarizeResult, folder: str | Path, *, overwrite: bool = False) -> Path:
    """Write the plots, summary.json and summary.md into ``folder`` (all or nothing)."""
    summary = summarize(result)
    with atomic_folder(folder, overwrite=overwrite) as staging:
        plots = _plots(result, summary, staging)
        (staging / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
        (staging / "summary.md").write_text(render_markdown(summary, plots), "utf-8")
    return Path(folder)
