"""The ``zephyr`` command: ``serve`` speaks TGI's protocol, ``chat`` answers through it."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ZEPHYR = [sys.executable, "-m", "zephyr_integrations.cli"]


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "HF_HUB_OFFLINE": "0", "NO_COLOR": "1"}


def _read_url(process: subprocess.Popen[str], seconds: float = 60) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + seconds
    seen = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 0.2)
        if ready:
            line = process.stderr.readline()
            seen += line
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            if found:
                return found.group(0)
        if process.poll() is not None:
            break
    raise AssertionError(f"zephyr serve printed no URL: {seen}")


def test_serve_then_chat_through_it(tiny_model_path: Path) -> None:
    server = subprocess.Popen(
        [*ZEPHYR, "serve", "--model", str(tiny_model_path), "--port", "0", "--dtype", "float32"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        url = _read_url(server)
        info = httpx.get(f"{url}/info", timeout=10).json()
        assert info["model_id"] == str(tiny_model_path)
        answer = subprocess.run(
            [*ZEPHYR, "chat", "Hello", "--backend", "tgi", "--base-url", url, "--max-tokens", "5"],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=120,
            check=False,
        )
        assert answer.returncode == 0, answer.stderr
        assert answer.stdout.strip()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
    assert server.returncode == 0


def test_serve_on_a_port_in_use_fails_with_one_clear_line(tiny_model_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*ZEPHYR, "serve", "--model", str(tiny_model_path), "--port", str(port)],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=120,
            check=False,
        )
    assert result.returncode == 3  # a service problem (the port is taken), not bad input
    assert f"cannot serve on 127.0.0.1:{port}" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["chat", "hi", "--model", "./no/such/model"], "does not exist"),
        (["chat", "hi", "--backend", "tgi", "--base-url", "not-a-url"], "base_url"),
    ],
)
def test_chat_bad_input_is_one_clear_line(args: list[str], message: str) -> None:
    result = subprocess.run(
        [*ZEPHYR, *args], capture_output=True, text=True, env=_env(), timeout=120, check=False
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
