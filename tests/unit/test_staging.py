"""Staging leftovers of killed runs are removed by the next run; a live run's are kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tests.unit.test_export_cli import preference_rows, write_jsonl
from zephyr_integrations.cli import app


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def leave_leftovers(folder: Path, name: str) -> tuple[list[Path], Path]:
    pid = dead_pid()
    stale_dir = folder / f".{name}.{pid}.k3j2.partial"
    (stale_dir / "data").mkdir(parents=True)
    (stale_dir / "data" / "train_prefs-00000-of-00001.parquet").write_bytes(b"x" * 1_000_000)
    stale_old = folder / f".{name}.{pid}.a1b2.old"
    stale_old.mkdir()
    stale_file = folder / f".{name}.{pid}.zz9.partial"
    stale_file.write_text("half a file")
    live = folder / f".{name}.{os.getpid()}.live.partial"  # a run still going: not ours to remove
    live.mkdir()
    return [stale_dir, stale_old, stale_file], live


def run(*args: str) -> None:
    result = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200"}).invoke(app, list(args))
    assert result.exit_code == 0, result.output


def test_export_removes_what_killed_exports_left(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "rated.jsonl", preference_rows(6))
    stale, live = leave_leftovers(tmp_path, "prefs")
    unrelated = tmp_path / ".other.1.x.partial"
    unrelated.mkdir()
    run("export", str(source), "-o", str(tmp_path / "prefs"))
    assert not any(path.exists() for path in stale)
    assert live.exists() and unrelated.exists()
    assert (tmp_path / "prefs" / "README.md").is_file()
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".prefs."))
    assert left == [live.name]  # and the run itself left nothing


def test_binarize_and_report_clean_their_own_leftovers(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "rated.jsonl", preference_rows(6))
    stale, _ = leave_leftovers(tmp_path, "pairs.jsonl")
    run("binarize", str(source), "-o", str(tmp_path / "pairs.jsonl"))
    assert not any(path.exists() for path in stale)
    assert len((tmp_path / "pairs.jsonl").read_text().splitlines()) == 6
    stale, _ = leave_leftovers(tmp_path, "report")
    run("report", str(source), "-o", str(tmp_path / "report"))
    assert not any(path.exists() for path in stale)
    assert json.loads((tmp_path / "report" / "summary.json").read_text())
