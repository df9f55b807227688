"""Starting, checking and stopping the stack's processes, each recorded by PID.

A recorded process is identified by PID *and* its start time (from /proc), so `down` never signals
a process that merely reused a PID. Processes run in their own session, so they outlive the
command that started them; their output goes to a log file each.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from zephyr_integrations.redact import redact_text


class StackError(RuntimeError):
    """The stack cannot start, is not running, or a process misbehaved (one clear line)."""


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    start_ticks: int  # field 22 of /proc/<pid>/stat: tells a reused PID apart

    def alive(self) -> bool:
        return start_ticks(self.pid) == self.start_ticks


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has exited
        _reap(pid)
        return None
    return int(fields[19])


#: What every child process gets from our environment; nothing else (no tokens, no keys).
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME")


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: the basics of ours (``INHERITED``) plus ``extra``."""
    env = {key: os.environ[key] for key in INHERITED if key in os.environ}
    env.update(extra or {})
    return env


def _private_log(log: Path) -> int:
    """Open ``log`` for appending, readable by the user only."""
    log.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(descriptor, 0o600)
    return descriptor


def spawn(name: str, command: list[str], env: Mapping[str, str], log: Path) -> ProcessRecord:
    descriptor = _private_log(log)
    try:
        proc = subprocess.Popen(
            command,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=descriptor,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            umask=0o077,  # what it writes (database, snapshots, logs) is the user's only
        )
    finally:
        os.close(descriptor)
    ticks = start_ticks(proc.pid)
    if ticks is None:
        raise StackError(f"{name} exited at once (see {log})")
    return ProcessRecord(name=name, pid=proc.pid, start_ticks=ticks)


def stop(record: ProcessRecord, timeout_s: float = 20.0) -> None:
    """SIGTERM the recorded process (only if it is still the one recorded), then SIGKILL."""
    if not record.alive():
        return
    os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not record.alive():
            return
        time.sleep(0.1)
    if record.alive():
        os.kill(record.pid, signal.SIGKILL)
        while record.alive():
            time.sleep(0.05)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def http_ok(url: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def redis_ok(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=2.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool],
    what: str,
    record: ProcessRecord | None,
    log: Path | None,
    timeout_s: float,
) -> None:
    """Poll `check` until true; fail early (naming the log) if the process dies meanwhile."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        if record is not None and not record.alive():
            raise StackError(f"{what} exited during start-up (see {log})")
        time.sleep(0.2)
    raise StackError(f"{what} did not answer within {timeout_s:.0f} s (see {log})")


def run_once(
    command: list[str],
    env: Mapping[str, str],
    log: Path,
    what: str,
    secrets: Sequence[str] = (),
) -> None:
    """Run a one-shot command (migrations, user creation); its output goes to the log with
    ``secrets`` (and anything that looks like a key or password) masked."""
    done = subprocess.run(
        command,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
        umask=0o077,
    )
    descriptor = _private_log(log)
    with os.fdopen(descriptor, "a", encoding="utf-8") as out:
        out.write(redact_text(done.stdout.decode("utf-8", "replace"), secrets))
    if done.returncode != 0:
        raise StackError(f"{what} failed with exit code {done.returncode} (see {log})")
