"""`zephyr` errors that need sockets: a service that is not there is one line and exit 3."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ZEPHYR = [sys.executable, "-m", "zephyr_integrations.cli"]
TGI = "tgi:http://127.0.0.1:{port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def zephyr(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "HF_HUB_OFFLINE": "1"}
    env.pop("ARGILLA_API_URL", None)
    env.pop("ARGILLA_API_KEY", None)
    return subprocess.run(
        [*ZEPHYR, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=180, check=False
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["chat", "hi", "--backend", "tgi", "--base-url", "http://127.0.0.1:{port}"], "connect"),
        (["collect", "p.jsonl", "-o", "c.jsonl", "-m", TGI, "--no-progress"], "connect"),
        (["judge", "c0.jsonl", "-o", "j.jsonl", "-m", TGI, "--no-progress"], "connect"),
        (["annotate", "push", "c0.jsonl", "--dataset", "d", "--data-dir", "stack"], "not running"),
        (["annotate", "pull", "--dataset", "d", "--out", "h.jsonl", "--data-dir", "stack"],
         "not running"),
        (["annotate", "status", "--data-dir", "stack"], "not running"),
    ],
    ids=["chat", "collect", "judge", "push", "pull", "status"],
)  # fmt: skip
def test_no_service_is_one_line_exit_3_and_creates_nothing(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    (tmp_path / "p.jsonl").write_text('{"prompt": "hi"}\n', encoding="utf-8")
    row = {"prompt_id": "x", "prompt": "hi", "messages": [{"role": "user", "content": "hi"}]}
    lines = [{**row, "model": m, "sample": 0, "response": m} for m in ("a", "b")]
    (tmp_path / "c0.jsonl").write_text("".join(f"{json_line(r)}\n" for r in lines))
    before = sorted(p.name for p in tmp_path.iterdir())
    port = str(free_port())
    result = zephyr(*(a.replace("{port}", port) for a in args), cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert needle in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def json_line(row: object) -> str:
    import json

    return json.dumps(row)


def test_export_push_to_an_unreachable_hub_is_exit_3_and_keeps_nothing(tmp_path: Path) -> None:
    from tests.unit.test_export_cli import preference_rows, write_jsonl

    source = write_jsonl(tmp_path / "rated.jsonl", preference_rows(4))
    env = {
        **os.environ,
        "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "HF_TOKEN": "hf_planted_token_for_the_unreachable_hub",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    }
    env.pop("HF_HUB_OFFLINE", None)
    command = [*ZEPHYR, "export", str(source), "-o", str(tmp_path / "prefs"), "--push-to-hub"]
    done = subprocess.run(
        [*command, "me/prefs"], capture_output=True, text=True, env=env, timeout=180, check=False
    )
    assert done.returncode == 3, done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith("error: ") and "nothing was kept" in last
    assert "Traceback" not in done.stderr and env["HF_TOKEN"] not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rated.jsonl"]
