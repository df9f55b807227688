"""`zephyr import` picks a layout by its columns, says which each lacked when none fits, writes
nothing on bad input, and reads a third-party layout registered by entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.unit.import_helpers import ENV, run, write_jsonl
from zephyr_integrations import hookspecs, plugins
from zephyr_integrations.preferences.importing import import_rows
from zephyr_integrations.preferences.sources import BUILTIN_SOURCES, ImportOptions, base


def test_the_built_in_sources_register_through_the_hook() -> None:
    assert hookspecs.Source is base.Source
    registered = plugins.sources()
    assert {"ultrafeedback", "ultrafeedback_binarized", "trl"} <= set(registered)
    for name, source in BUILTIN_SOURCES.items():
        assert plugins.get_source(name) is source


def test_an_unknown_layout_is_one_line_listing_what_each_layout_lacked(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "qa.jsonl", [{"question": "q?", "answer": "a", "votes": 3}])
    output = tmp_path / "out.jsonl"
    result = run("import", str(source), "-o", str(output))
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {source}: unknown layout (columns: answer, question, votes); tried "
        "ultrafeedback lacks instruction, completions; ultrafeedback_binarized lacks prompt, "
        "prompt_id, chosen, rejected, messages, score_chosen, score_rejected; trl lacks chosen, "
        "rejected; rename the columns or name a layout with --layout"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qa.jsonl"]


def test_a_named_layout_must_fit_and_exist(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "half.jsonl", [{"prompt": "p", "chosen": "p a"}])
    result = run("import", str(source), "-o", str(tmp_path / "o.jsonl"), "--layout", "trl")
    assert result.exit_code == 2
    assert (
        f"{source}:1: layout trl needs the columns chosen, rejected; the data lacks rejected"
        in result.stderr
    )
    result = run("import", str(source), "-o", str(tmp_path / "o.jsonl"), "--layout", "nectar")
    assert result.exit_code == 2
    assert (
        "--layout nectar: no such layout; the layouts are ultrafeedback, "
        "ultrafeedback_binarized, trl" in result.stderr
    )
    assert not (tmp_path / "o.jsonl").exists()


def test_a_bad_row_late_in_the_file_leaves_nothing_written(tmp_path: Path) -> None:
    rows: list[Any] = [{"chosen": f"Say {i}: yes", "rejected": f"Say {i}: no"} for i in range(5)]
    rows.append({"chosen": "Say 5: yes", "rejected": 5})
    source = write_jsonl(tmp_path / "pairs.jsonl", rows)
    output = tmp_path / "out.jsonl"
    output.write_text("an earlier import\n")
    result = run("import", str(source), "-o", str(output), "--overwrite")
    assert result.exit_code == 2
    assert f"{source}:6: 'chosen' and 'rejected' must both be strings" in result.stderr
    assert output.read_text() == "an earlier import\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "pairs.jsonl"]
    result = run("import", str(source), "-o", str(output))
    assert result.exit_code == 2
    assert "already exists (pass --overwrite to replace it)" in result.stderr


def test_a_file_that_is_not_json_lines_names_the_line(tmp_path: Path) -> None:
    source = tmp_path / "broken.jsonl"
    source.write_text('{"chosen": "a b", "rejected": "a c"}\n{oops\n')
    result = run("import", str(source), "-o", str(tmp_path / "o.jsonl"))
    assert result.exit_code == 2
    assert f"{source}:2: not valid JSON" in result.stderr


NECTAR_PLUGIN = '''
"""A third-party source: Nectar-style rows, each answer ranked 1 (best) to 7."""

from zephyr_integrations.hookspecs import hookimpl, Source
from zephyr_integrations.preferences.records import prompt_id
from zephyr_integrations.preferences.sources.base import SourceRowError

SCALE = {"low": 1.0, "high": 7.0, "meaning": "8 - the answer's rank among 7 (Nectar)"}


def read(rows, options):
    out = []
    for where, row in rows:
        for sample, answer in enumerate(row["answers"]):
            if not isinstance(answer.get("rank"), int):
                raise SourceRowError(f"{where}: answers[{sample}].rank must be an integer")
            out.append({
                "prompt_id": prompt_id(row["prompt"]), "prompt": row["prompt"],
                "messages": [{"role": "user", "content": row["prompt"]}],
                "model": answer["model"], "sample": 0, "response": answer["answer"],
                "params": {}, "usage": None, "finish_reason": None,
                "judge": "gpt-4", "score": 8.0 - answer["rank"], "scale": SCALE,
            })
    return out


@hookimpl
def register_sources(register):
    register("nectar", Source("nectar", ("prompt", "answers"), "judged", read))
'''


def test_a_third_party_source_registered_by_entry_point_is_detected(tmp_path: Path) -> None:
    package = tmp_path / "zephyr_nectar"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(NECTAR_PLUGIN))
    dist = tmp_path / "zephyr_nectar-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zephyr-nectar\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[zephyr_integrations]\nnectar = zephyr_nectar\n")
    answers = [
        {"answer": "ok", "model": "m1", "rank": 3},
        {"answer": "best", "model": "m2", "rank": 1},
        {"answer": "worst", "model": "m3", "rank": 7},
    ]
    source = write_jsonl(
        tmp_path / "nectar.jsonl", [{"prompt": "Name a fruit.", "answers": answers}]
    )
    imported, pairs = tmp_path / "imported.jsonl", tmp_path / "pairs.jsonl"
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", **ENV}
    commands = [
        ["import", str(source), "-o", str(imported)],
        ["binarize", str(imported), "-o", str(pairs), "--strategy", "best_vs_worst"],
    ]
    said = []
    for command in commands:
        result = subprocess.run(
            [sys.executable, "-m", "zephyr_integrations.cli", *command],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        said.append(" ".join(result.stderr.split()))
    assert f"{source}: 1 row in layout nectar -> 3 judged candidate rows" in said[0]
    rows = [json.loads(line) for line in imported.read_text().splitlines()]
    assert [(r["model"], r["score"]) for r in rows] == [("m1", 5.0), ("m2", 7.0), ("m3", 1.0)]
    (pair,) = [json.loads(line) for line in pairs.read_text().splitlines()]
    assert pair["chosen"][-1]["content"] == "best" and pair["rejected"][-1]["content"] == "worst"
    assert (pair["score_chosen"], pair["score_rejected"]) == (7.0, 1.0)


def test_a_sources_rows_are_checked_before_anything_is_written() -> None:
    def careless(rows: Any, options: Any) -> list[dict[str, Any]]:
        return [{"prompt": "p", "response": "r", "model": "m"} for _ in rows]

    broken = base.Source("careless", ("question",), "judged", careless)
    with pytest.raises(
        ValueError, match="careless gave a row that is not a judged row: row 0: missing"
    ):
        import_rows([{"question": "q"}], sources=[broken])
    with pytest.raises(ValueError, match="a score range is two finite numbers, low < high"):
        ImportOptions(score_range=(5.0, 1.0))
