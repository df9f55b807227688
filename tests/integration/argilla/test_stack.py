"""The local stack: one session stack, reused by a second `up`, bound to loopback, secrets 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.argilla.stack_fixture import free_port
from zephyr_integrations.argilla_stack import Connection, LocalStack, StackConfig, StackError
from zephyr_integrations.argilla_stack.credentials import load_credentials

DOCUMENTED_DEFAULTS = {"1234", "12345678", "argilla.apikey", "owner.apikey"}


def _listening(port: int) -> list[str]:
    """Local addresses listening on `port` (from /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:
                found.append(address)
    return found


def test_up_started_everything_on_loopback(argilla_stack: tuple[LocalStack, Connection]) -> None:
    stack, connection = argilla_stack
    state = stack.status()
    assert state.running
    assert [p.name for p in state.processes] == ["redis", "noida-db", "argilla-server"]
    config = stack.config
    for port in (config.server_port, config.search_port, config.redis_port):
        addresses = _listening(port)
        assert addresses, port
        assert set(addresses) == {"0100007F"}, (port, addresses)  # 127.0.0.1 only
    assert httpx.get(f"{connection.api_url}/api/v1/version").json()["version"].startswith("2.8.")
    # The web UI is served too.
    assert "Argilla" in httpx.get(f"{connection.api_url}/sign-in").text


def test_second_up_reuses_the_running_stack(argilla_stack: tuple[LocalStack, Connection]) -> None:
    stack, connection = argilla_stack
    before = stack.status().processes
    again = LocalStack(stack.config).up()
    assert again.api_url == connection.api_url
    assert stack.status().processes == before


def test_credentials_are_random_private_and_not_the_defaults(
    argilla_stack: tuple[LocalStack, Connection],
) -> None:
    stack, connection = argilla_stack
    mode = stat.S_IMODE(stack.credentials_file.stat().st_mode)
    assert mode == 0o600
    creds = load_credentials(stack.credentials_file)
    assert creds is not None
    secrets_ = {creds.password.get_secret_value(), creds.api_key.get_secret_value()}
    assert not secrets_ & DOCUMENTED_DEFAULTS
    assert creds.api_key.get_secret_value() not in repr(connection)
    me = httpx.get(
        f"{connection.api_url}/api/v1/me",
        headers={"X-Argilla-Api-Key": creds.api_key.get_secret_value()},
    )
    assert me.json()["role"] == "owner"
    for default in ("argilla.apikey", "owner.apikey"):
        refused = httpx.get(
            f"{connection.api_url}/api/v1/me", headers={"X-Argilla-Api-Key": default}
        )
        assert refused.status_code == 401


def test_server_runs_with_persisted_secret_and_private_tmpdir(
    argilla_stack: tuple[LocalStack, Connection],
) -> None:
    stack, _ = argilla_stack
    server = next(p for p in stack.status().processes if p.name == "argilla-server")
    environ = dict(
        item.split("=", 1)
        for item in Path(f"/proc/{server.pid}/environ").read_text().split("\0")
        if "=" in item
    )
    creds = load_credentials(stack.credentials_file)
    assert creds is not None
    assert environ["ARGILLA_AUTH_SECRET_KEY"] == creds.auth_secret_key.get_secret_value()
    assert environ["TMPDIR"] == str(stack.tmp_dir)
    assert any(stack.tmp_dir.iterdir())  # the server's UI copy lands there, not in /tmp
    assert (stack.data_dir / "home" / "argilla.db").is_file()  # SQLite in the data folder


def test_port_in_use_is_one_clear_error(
    argilla_stack: tuple[LocalStack, Connection], tmp_path: Path
) -> None:
    stack, _ = argilla_stack
    other = LocalStack(
        StackConfig(
            data_dir=tmp_path / "other",
            server_port=stack.config.server_port,
            search_port=free_port(),
            redis_port=free_port(),
        )
    )
    with pytest.raises(StackError, match=rf"port {stack.config.server_port} on 127.0.0.1"):
        other.up()
    assert not (tmp_path / "other" / "stack.json").exists()  # nothing started


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zephyr_integrations.cli", "annotate", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_cli_status_of_the_running_and_of_a_stopped_stack(
    argilla_stack: tuple[LocalStack, Connection], tmp_path: Path
) -> None:
    stack, connection = argilla_stack
    config = tmp_path / "stack.toml"
    config.write_text(
        f'[stack]\ndata_dir = "{stack.data_dir}"\nserver_port = {stack.config.server_port}\n'
    )
    running = _cli("status", "--config", str(config))
    assert running.returncode == 0, running.stderr
    assert connection.api_url in running.stdout
    stopped = _cli("status", "--data-dir", str(tmp_path / "nothing"))
    assert stopped.returncode == 3
    assert "is not running" in stopped.stderr
    assert len(stopped.stderr.strip().splitlines()) == 1
    down = _cli("down", "--data-dir", str(tmp_path / "nothing"))
    assert down.returncode == 3


def test_cli_up_without_redis_server_fails_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no redis-server on PATH
    env.pop("ARGILLA_API_URL", None)
    result = _cli("up", "--data-dir", str(tmp_path / "d"), "--port", str(free_port()), env=env)
    assert result.returncode == 3
    assert "redis-server is not installed" in result.stderr
    assert not (tmp_path / "d" / "stack.json").exists()
