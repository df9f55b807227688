"""`zephyr quickstart --auto` end to end: a real local Argilla stack, the tiny model, a dataset."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ZEPHYR = [sys.executable, "-m", "zephyr_integrations.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def zephyr(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARGILLA_API")}
    return subprocess.run(
        [*ZEPHYR, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def test_quickstart_auto_runs_the_whole_loop(tiny_model_path: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    out, argilla_dir = tmp_path / "qs", tmp_path / "argilla"
    args = ["--auto", "-o", str(out), "--model", str(tiny_model_path), "--prompts", "3"]
    args += ["--max-tokens", "16"]
    args += ["--argilla-dir", str(argilla_dir), "--argilla-port", str(free_port())]
    try:
        run = zephyr("quickstart", *args)
        assert run.returncode == 0, run.stderr[-3000:]

        # Candidates and AI feedback: 3 prompts x 2 answers, every answer rated.
        rated = [json.loads(line) for line in (out / "rated.jsonl").read_text().splitlines()]
        assert len(rated) == 6 and len({r["prompt_id"] for r in rated}) == 3
        assert all(r.get("score") is not None for r in rated), [r.get("judge_error") for r in rated]

        # The records are in the local Argilla, one per prompt, with the AI ratings as suggestions.
        from zephyr_integrations.preferences.argilla.client import connect

        login = json.loads((argilla_dir / "credentials.json").read_text())
        assert (argilla_dir / "credentials.json").stat().st_mode & 0o777 == 0o600
        url = next(line for line in run.stdout.splitlines() if line.startswith("Argilla:"))
        client = connect(url.split()[1], login["api_key"])
        dataset = client.datasets("zephyr-quickstart")
        records = list(dataset.records(with_suggestions=True))
        assert len(records) == 3
        assert all(r.suggestions for r in records)

        # The DPO-ready dataset reads back with the ultrafeedback_binarized columns.
        loaded = datasets.load_dataset(str(out / "dataset"))
        total = sum(len(split) for split in loaded.values())
        assert total >= 1
        assert set(next(iter(loaded.values())).column_names) >= {
            "prompt", "prompt_id", "chosen", "rejected", "messages",
            "score_chosen", "score_rejected",
        }  # fmt: skip
        assert list((out / "report").glob("*.png"))
        assert login["password"] not in run.stdout + run.stderr  # not printed without a terminal

        # A second run resumes: nothing collected or judged again, the same records in Argilla.
        again = zephyr("quickstart", *args)
        assert again.returncode == 0, again.stderr[-3000:]
        assert len((out / "rated.jsonl").read_text().splitlines()) == 6
        assert len(list(client.datasets("zephyr-quickstart").records)) == 3
    finally:
        zephyr("annotate", "down", "--data-dir", str(argilla_dir), timeout=120)


def test_quickstart_refuses_bad_options_in_one_line(tmp_path: Path) -> None:
    run = zephyr("quickstart", "--candidates", "1", "-o", str(tmp_path / "qs"), timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "candidates" in run.stderr
    assert not (tmp_path / "qs").exists()


def test_quickstart_with_a_missing_model_folder_writes_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    run = zephyr("quickstart", "--auto", "--model", str(missing), "-o", str(tmp_path / "qs"))
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "no-such-model" in run.stderr
    assert not (tmp_path / "qs").exists()


def test_quickstart_with_an_unknown_judge_writes_nothing(
    tiny_model_path: Path, tmp_path: Path
) -> None:
    args = ["--auto", "--model", str(tiny_model_path), "--judge", "nope"]
    run = zephyr("quickstart", *args, "-o", str(tmp_path / "qs"), timeout=300)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0
    assert "judge 'nope' is not registered; registered judges: reward-model, ultrafeedback," in (
        run.stderr
    )
    assert not (tmp_path / "qs").exists()
