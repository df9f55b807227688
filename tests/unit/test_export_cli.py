"""`zephyr binarize`, `zephyr export`, `zephyr report` on the command line (in-process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from zephyr_integrations.cli import app
from zephyr_integrations.preferences.records import prompt_id

ENV = {"COLUMNS": "250", "NO_COLOR": "1"}


def preference_rows(n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        prompt = f"prompt {i}"
        out.append(
            {
                "prompt_id": prompt_id(prompt),
                "prompt": prompt,
                "messages": [{"role": "user", "content": prompt}],
                "source": "human",
                "agreement": 0.5 + (i % 5) / 10,
                "completions": [
                    {"model": "big", "response": f"a careful answer to {i}", "score": 4.5},
                    {"model": "small", "response": f"meh {i}", "score": 2.0},
                ],
            }
        )
    return out


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner(env={**ENV, **(env or {})}).invoke(app, list(args))


def test_binarize_writes_pairs_and_reports_drops_by_reason(tmp_path: Path) -> None:
    records = [*preference_rows(5), {**preference_rows(1)[0], "completions": []}]
    source = write_jsonl(tmp_path / "rated.jsonl", records)
    result = run("binarize", str(source), "-o", str(tmp_path / "pairs.jsonl"))
    assert result.exit_code == 0, result.output
    pairs = [json.loads(line) for line in (tmp_path / "pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == 5
    assert set(pairs[0]) == {
        "prompt", "prompt_id", "chosen", "rejected", "messages", "score_chosen", "score_rejected"
    }  # fmt: skip
    assert "6 records -> 5 pairs (dropped: fewer_than_two_answers 1" in result.stderr
    assert "record 6 (prompt_id" in result.stderr


def test_binarize_groups_judged_candidate_rows(tmp_path: Path) -> None:
    candidates = [
        {
            "prompt_id": prompt_id(f"q{i}"),
            "prompt": f"q{i}",
            "messages": [{"role": "user", "content": f"q{i}"}],
            "model": model,
            "sample": 0,
            "response": f"{model} says {i}",
            "params": {},
            "usage": None,
            "finish_reason": "stop",
            "score": score,
        }
        for i in range(4)
        for model, score in (("m1", 2.25), ("m2", 4.75), ("m3", None))
    ]
    source = write_jsonl(tmp_path / "judged.jsonl", candidates)
    out = tmp_path / "pairs.jsonl"
    result = run("binarize", str(source), "-o", str(out), "--strategy", "best_vs_worst")
    assert result.exit_code == 0, result.output
    pairs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["score_chosen"] for p in pairs] == [4.75] * 4
    assert all(p["chosen"][-1]["content"].startswith("m2 says") for p in pairs)
    assert "unscored answers skipped: 4" in result.stderr


def test_export_hub_folder_with_sft_and_gen(tmp_path: Path) -> None:
    from datasets import load_dataset

    source = write_jsonl(tmp_path / "rated.jsonl", preference_rows(30))
    out = tmp_path / "prefs"
    result = run("export", str(source), "-o", str(out), "--sft", "--gen", "--test-size", "0.3")
    assert result.exit_code == 0, result.output
    loaded = load_dataset(str(out))
    assert set(loaded) == {f"{p}_{k}" for p in ("train", "test") for k in ("prefs", "sft", "gen")}
    assert loaded["train_prefs"].num_rows + loaded["test_prefs"].num_rows == 30
    assert f"train_prefs {loaded['train_prefs'].num_rows}" in result.stderr


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ['{"prompt": "x", "completions": []}', "{not json", "{}"],
            "rated.jsonl:2: not valid JSON",
        ),
        (["[1, 2]"], "rated.jsonl:1: expected a JSON object"),
        (['{"hello": 1}'], "rated.jsonl:1: neither a PreferenceRow"),
        (['{"prompt_id": "a", "prompt": "b", "model": 3, "response": "r"}'], "field 'model'"),
    ],
)
@pytest.mark.parametrize("command", ["binarize", "export", "report"])
def test_unreadable_input_is_one_line_and_writes_nothing(
    tmp_path: Path, lines: list[str], message: str, command: str
) -> None:
    source = tmp_path / "rated.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run(command, str(source), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rated.jsonl"]


def test_refusals_before_any_work(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "rated.jsonl", preference_rows(3))
    (tmp_path / "taken").mkdir()
    result = run("export", str(source), "-o", str(tmp_path / "taken"))
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    result = run("export", str(source), "-o", str(tmp_path / "x"), "--format", "parquet",
                 "--push-to-hub", "me/prefs")  # fmt: skip
    assert result.exit_code == 2
    assert "--push-to-hub uploads a hub folder" in result.stderr
    result = run("binarize", str(source), "-o", str(tmp_path / "p.jsonl"), "--ties", "maybe")
    assert result.exit_code == 2
    assert "ties must be 'keep' or 'drop'" in result.stderr
    result = run("export", str(source), "-o", str(tmp_path / "y"), "--strategy", "nope")
    assert result.exit_code == 2
    assert "binarizer 'nope' is not registered" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rated.jsonl", "taken"]


def test_push_without_a_token_says_so_and_never_reaches_the_network(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "rated.jsonl", preference_rows(3))
    env = {"HF_TOKEN": "", "HF_HOME": str(tmp_path / "hf-home")}
    result = run("export", str(source), "-o", str(tmp_path / "prefs"), "--push-to-hub", "me/p",
                 env=env)  # fmt: skip
    assert result.exit_code == 2
    assert "no Hugging Face token" in result.stderr
    assert not (tmp_path / "prefs").exists()  # checked before anything is written


def test_report_writes_plots_and_summary(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "rated.jsonl", preference_rows(12))
    result = run("report", str(source), "-o", str(tmp_path / "report"))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "report").iterdir())
    assert names == [
        "agreement.png", "length_bias.png", "margins.png", "scores.png",
        "summary.json", "summary.md", "win_rates.png",
    ]  # fmt: skip
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["win_rates"]["big"] == {"chosen": 12, "rejected": 0, "win_rate": 1.0}


@pytest.mark.parametrize("command", ["binarize", "export", "report"])
def test_help_has_an_example(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert f"Example: zephyr {command}" in result.output
