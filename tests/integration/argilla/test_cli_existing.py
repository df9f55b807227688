"""`zephyr annotate` against an existing Argilla (URL + API key from the environment): `up` starts
nothing, `push` logs a JSONL file, `pull` writes PreferenceRows; bad input gives one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.integration.argilla.candidates import candidates
from zephyr_integrations.argilla_stack import Connection, LocalStack


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zephyr_integrations.cli", "annotate", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def test_existing_argilla_push_and_pull_through_the_cli(
    argilla_stack: tuple[LocalStack, Connection], tmp_path: Path
) -> None:
    _, connection = argilla_stack
    env = {
        **os.environ,
        "ARGILLA_API_URL": connection.api_url,
        "ARGILLA_API_KEY": connection.api_key.get_secret_value(),
    }
    up = _cli(env, "up", "--data-dir", str(tmp_path / "unused"))
    assert up.returncode == 0, up.stderr
    assert f"using the existing Argilla at {connection.api_url}" in up.stderr
    assert not (tmp_path / "unused").exists()  # nothing local was started

    source = tmp_path / "candidates.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in candidates(3, 2, tag="cli ")))
    pushed = _cli(env, "push", str(source), "--dataset", "cli-pairs", "--template", "pairwise")
    assert pushed.returncode == 0, pushed.stderr
    assert "3 records" in pushed.stderr and "3 new" in pushed.stderr
    again = _cli(env, "push", str(source), "--dataset", "cli-pairs", "--template", "pairwise")
    assert "0 new, 3 already there" in again.stderr

    out = tmp_path / "human.jsonl"
    pulled = _cli(env, "pull", "--dataset", "cli-pairs", "--out", str(out))
    assert pulled.returncode == 0, pulled.stderr
    assert "0 prompts with submitted answers of 3 (3 without)" in pulled.stderr
    assert out.read_text() == ""

    conflict = _cli(env, "push", str(source), "--dataset", "cli-pairs", "--template", "rating")
    assert conflict.returncode == 2
    assert "dataset 'cli-pairs'" in conflict.stderr and "other settings" in conflict.stderr

    broken = tmp_path / "broken.jsonl"
    broken.write_text(source.read_text().splitlines()[0] + "\n{oops\n")
    bad = _cli(env, "push", str(broken), "--dataset", "cli-pairs", "--template", "pairwise")
    assert bad.returncode == 2 and f"{broken}:2: not valid JSON" in bad.stderr


def test_wrong_key_or_no_server_is_one_line_exit_3(
    argilla_stack: tuple[LocalStack, Connection], tmp_path: Path
) -> None:
    _, connection = argilla_stack
    env = {**os.environ, "ARGILLA_API_URL": connection.api_url, "ARGILLA_API_KEY": "zephyr.nope"}
    wrong = _cli(env, "up")
    assert wrong.returncode == 3
    assert f"Argilla at {connection.api_url} rejected the API key" in wrong.stderr
    assert "zephyr.nope" not in wrong.stderr
    env.pop("ARGILLA_API_URL")
    env.pop("ARGILLA_API_KEY")
    not_running = _cli(
        env,
        "pull",
        "--dataset",
        "x",
        "--out",
        str(tmp_path / "o.jsonl"),
        "--data-dir",
        str(tmp_path),
    )
    assert not_running.returncode == 3
    assert "is not running" in not_running.stderr
    assert len(not_running.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.jsonl").exists()
