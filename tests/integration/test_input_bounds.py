"""Oversized input is refused before it is tokenized or sent, with peak memory bounded: in the
client, in the CLI (a prompts-file line) and in `zephyr serve` (413, body unread)."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

HUGE = 50_000_000  # the 50 MB prompt that once took `zephyr serve` past 11.7 GB
MB = 1024 * 1024
ZEPHYR = [sys.executable, "-m", "zephyr_integrations.cli"]


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "HF_HUB_OFFLINE": "1"}


#: Runs a command and prints its peak RSS in KiB. A child forked from this (large) test process
#: starts with the parent's pages counted in its ru_maxrss, which survives exec; forked from a
#: fresh, small interpreter instead, the command's own peak is what gets measured.
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(code)\n"
)


def peak_rss_of(command: list[str], **kwargs: object) -> tuple[int, int, str]:
    """Run ``command``; its exit code, its own peak RSS in bytes and its stderr."""
    process = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        **kwargs,
    )  # type: ignore[call-overload]
    stdout, stderr = process.communicate()
    peak_kib = int(stdout.decode().split()[-1])
    return process.returncode, peak_kib * 1024, stderr.decode()


def test_client_refuses_a_huge_prompt_before_sending_with_bounded_memory() -> None:
    script = f"""
import resource, sys
from zephyr_integrations import ChatZephyr
from zephyr_integrations.limits import InputTooLargeError
llm = ChatZephyr(backend="tgi", base_url="http://127.0.0.1:9", max_retries=0)
prompt = "x" * {HUGE}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    llm.invoke(prompt)
except InputTooLargeError as exc:
    print(exc, file=sys.stderr)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(f"grew {{grown}} KiB", file=sys.stderr)
"""
    code, _, stderr = peak_rss_of([sys.executable, "-c", script])
    assert code == 0, stderr
    assert "over the limit of 1,000,000 (ZEPHYR_MAX_PROMPT_CHARS)" in stderr
    grown = int(re.search(r"grew (\d+) KiB", stderr).group(1)) * 1024  # type: ignore[union-attr]
    assert grown < 4 * HUGE, grown  # a few copies of the prompt at most, never a tokenization
    assert "could not connect" not in stderr  # refused before any connection


def test_cli_refuses_a_huge_prompts_file_line_with_bounded_memory(tmp_path: Path) -> None:
    prompts = tmp_path / "p.jsonl"
    with prompts.open("w") as out:
        out.write('{"prompt": "fine"}\n{"prompt": "' + "y" * HUGE + '"}\n')
    command = [*ZEPHYR, "collect", str(prompts), "-o", str(tmp_path / "c.jsonl"),
               "-m", "tgi:http://127.0.0.1:9"]  # fmt: skip
    code, peak, stderr = peak_rss_of(command)
    assert code == 2
    assert stderr.count("\n") == 1
    assert f"{prompts}:2: the line is over 8,000,000 bytes (ZEPHYR_MAX_LINE_BYTES)" in stderr
    assert peak < 1024 * MB, peak  # the whole CLI, imports included; the line is never held
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl"]


def _read_url(process: subprocess.Popen[str], seconds: float = 120) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 0.2)
        if ready:
            found = re.search(r"http://127\.0\.0\.1:\d+", process.stderr.readline())
            if found:
                return found.group(0)
        assert process.poll() is None, "zephyr serve exited"
    raise AssertionError("zephyr serve printed no URL")


def _vm_hwm(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]


def _post_head(url: str, path: str, length: int, first: bytes) -> bytes:
    """Announce a body of ``length`` bytes, send only its start, and read the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n".encode()
            + first
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_serve_answers_413_before_reading_a_huge_body(tiny_model_path: Path) -> None:
    server = subprocess.Popen(
        [*ZEPHYR, "serve", "--model", str(tiny_model_path), "--port", "0", "--dtype", "float32"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        url = _read_url(server)
        small = httpx.post(
            f"{url}/generate",
            json={"inputs": "Hello", "parameters": {"max_new_tokens": 2}},
            timeout=60,
        )
        assert small.status_code == 200
        before = _vm_hwm(server.pid)
        for path in ("/generate", "/tokenize", "/v1/chat/completions"):
            answer = _post_head(url, path, HUGE, b'{"inputs": "' + b"z" * 65536)
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
            assert b"length limit exceeded" in answer
        just_over = httpx.post(f"{url}/tokenize", content=b"z" * 2_000_001, timeout=60)
        assert just_over.status_code == 413
        assert _vm_hwm(server.pid) - before < 64 * MB  # nothing was read, nothing tokenized
        assert httpx.post(f"{url}/tokenize", json={"inputs": "ok"}, timeout=60).status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
