"""The quality report: its figures on hand-made data, and the plots it draws."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zephyr_integrations.preferences.binarize import BinarizeOptions, binarize
from zephyr_integrations.preferences.records import prompt_id
from zephyr_integrations.preferences.report import summarize, write_report

PNG = b"\x89PNG\r\n\x1a\n"


def record(i: int, answers: list[tuple[str, str, float]], agreement: Any = None) -> dict[str, Any]:
    prompt = f"p{i}"
    row: dict[str, Any] = {
        "prompt_id": prompt_id(prompt),
        "prompt": prompt,
        "source": "human",
        "completions": [{"model": m, "response": r, "score": s} for m, r, s in answers],
    }
    if agreement is not None:
        row["agreement"] = agreement
    return row


def data() -> list[dict[str, Any]]:
    return [
        # chosen longer
        record(0, [("a", "long long answer", 9.0), ("b", "short", 3.0)], agreement=0.9),
        record(1, [("a", "long long answer", 8.0), ("c", "tiny", 4.0)], agreement=0.5),
        # chosen shorter
        record(2, [("b", "ok", 7.0), ("a", "rambling answer", 6.0)], agreement=0.7),
        # same length, a tie kept
        record(3, [("c", "abcd", 5.0), ("b", "wxyz", 5.0)]),
        record(4, [("a", "only one", 5.0)]),  # dropped
    ]


def test_summary_figures() -> None:
    s = summarize(binarize(data(), BinarizeOptions(strategy="best_vs_worst")))
    assert (s["records"], s["pairs"], s["dropped"]) == (5, 4, {"fewer_than_two_answers": 1})
    assert s["score_chosen"] == {"mean": 7.25, "median": 7.5, "min": 5.0, "max": 9.0}
    assert s["score_rejected"]["mean"] == 4.5
    assert s["margin"] == {"mean": 2.75, "median": 2.5, "min": 0.0, "max": 6.0, "ties": 1}
    assert s["length_bias"]["chosen_longer"] == 0.5
    assert s["length_bias"]["same_length"] == 0.25
    assert s["length_bias"]["chosen_shorter"] == 0.25
    assert s["win_rates"] == {
        "a": {"chosen": 2, "rejected": 1, "win_rate": 0.6667},
        "b": {"chosen": 1, "rejected": 2, "win_rate": 0.3333},
        "c": {"chosen": 1, "rejected": 1, "win_rate": 0.5},
    }
    assert s["agreement"] == {
        "prompts_with_agreement": 3, "mean": 0.7, "median": 0.7, "min": 0.5, "max": 0.9
    }  # fmt: skip


def test_report_folder_has_plots_and_summaries(tmp_path: Path) -> None:
    result = binarize(data())
    folder = write_report(result, tmp_path / "report")
    for name in ("scores", "margins", "length_bias", "win_rates", "agreement"):
        assert (folder / f"{name}.png").read_bytes().startswith(PNG)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary == json.loads(json.dumps(summarize(result)))
    markdown = (folder / "summary.md").read_text()
    assert "5 records -> 4 pairs" in markdown
    assert "| a | 2 | 1 | 0.6667 |" in markdown
    assert "![scores.png](scores.png)" in markdown


def test_no_agreement_means_no_agreement_plot_and_an_empty_input_still_reports(
    tmp_path: Path,
) -> None:
    rows = [{k: v for k, v in r.items() if k != "agreement"} for r in data()]
    folder = write_report(binarize(rows), tmp_path / "a")
    assert not (folder / "agreement.png").exists()
    empty = write_report(binarize([data()[-1]]), tmp_path / "b")
    summary = json.loads((empty / "summary.json").read_text())
    assert summary["pairs"] == 0
    assert summary["length_bias"]["chosen_longer"] is None
