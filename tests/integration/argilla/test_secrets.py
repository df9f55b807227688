"""Secrets stay secret in a full run of the local stack: files, logs, child environments, CLI
output and errors are scanned for the owner's credentials and for planted secrets."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.integration.argilla.candidates import candidates
from tests.integration.argilla.stack_fixture import PLANTED
from zephyr_integrations.argilla_stack import Connection, LocalStack
from zephyr_integrations.argilla_stack.credentials import load_credentials
from zephyr_integrations.argilla_stack.processes import INHERITED

SERVER_ENV = {
    "ARGILLA_HOME_PATH",
    "ARGILLA_ELASTICSEARCH",
    "ARGILLA_SEARCH_ENGINE",
    "ARGILLA_REDIS_URL",
    "ARGILLA_AUTH_SECRET_KEY",
    "TMPDIR",
    "HF_HUB_OFFLINE",
    "HF_HUB_DISABLE_TELEMETRY",
}


def _secrets(stack: LocalStack) -> list[str]:
    credentials = load_credentials(stack.credentials_file)
    assert credentials is not None
    return [
        credentials.password.get_secret_value(),
        credentials.api_key.get_secret_value(),
        credentials.auth_secret_key.get_secret_value(),
        *PLANTED.values(),
    ]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zephyr_integrations.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def test_cli_output_and_errors_hold_no_secret(
    argilla_stack: tuple[LocalStack, Connection], tmp_path: Path
) -> None:
    stack, connection = argilla_stack
    key = connection.api_key.get_secret_value()
    env = {**os.environ, **PLANTED, "ARGILLA_API_URL": connection.api_url, "ARGILLA_API_KEY": key}
    source = tmp_path / "candidates.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in candidates(2, 2, tag="sec ")))
    pw = "url-password-0123456789"
    runs = [
        _cli(env, "annotate", "up"),
        _cli(env, "annotate", "push", str(source), "--dataset", "sec", "--template", "pairwise"),
        _cli(env, "annotate", "pull", "--dataset", "sec", "--out", str(tmp_path / "h.jsonl")),
        _cli(env, "annotate", "push", str(source), "--dataset", "sec", "--workspace", "nope"),
        _cli({**env, "ARGILLA_API_KEY": key + "x"}, "annotate", "up"),
        _cli(env, "collect", str(source), "-o", str(tmp_path / "c.jsonl"),
             "-m", f"tgi:http://me:{pw}@127.0.0.1:9,api_key={key},temperature=-1"),
        _cli(env, "chat", "hi", "--backend", "tgi", "--base-url", f"http://me:{pw}@127.0.0.1:1"),
    ]  # fmt: skip
    assert [r.returncode for r in runs] == [0, 0, 0, 2, 3, 2, 3], [r.stderr for r in runs]
    for secret in [*_secrets(stack), pw]:
        for run in runs:
            assert secret not in run.stdout + run.stderr, (secret[:4], run.args, run.stderr)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    for path in files:
        for secret in _secrets(stack):
            assert secret not in path.read_text(encoding="utf-8", errors="replace"), path


def test_unknown_workspace_is_refused_and_create_workspace_makes_it(
    argilla_stack: tuple[LocalStack, Connection], owner: object, tmp_path: Path
) -> None:
    _, connection = argilla_stack
    env = {
        **os.environ,
        "ARGILLA_API_URL": connection.api_url,
        "ARGILLA_API_KEY": connection.api_key.get_secret_value(),
    }
    source = tmp_path / "candidates.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in candidates(1, 2, tag="ws ")))
    typo = _cli(env, "annotate", "push", str(source), "--dataset", "ws", "--workspace", "argila")
    assert typo.returncode == 2
    assert typo.stderr.count("\n") == 1
    assert "no workspace 'argila'" in typo.stderr and "--create-workspace" in typo.stderr
    assert owner.workspaces("argila") is None  # type: ignore[attr-defined]
    made = _cli(
        env, "annotate", "push", str(source), "--dataset", "ws", "--workspace", "argila-new",
        "--create-workspace",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert owner.workspaces("argila-new") is not None  # type: ignore[attr-defined]


def test_stack_files_logs_and_child_environments_hold_no_readable_secret(
    argilla_stack: tuple[LocalStack, Connection],
) -> None:
    stack, _ = argilla_stack
    secrets = [s.encode() for s in _secrets(stack)]
    assert stat.S_IMODE(stack.data_dir.stat().st_mode) == 0o700
    holders = []
    for path in stack.data_dir.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        if any(secret in data for secret in secrets):
            holders.append(path.relative_to(stack.data_dir).as_posix())
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
        if path.suffix == ".log":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            assert not any(secret in data for secret in secrets), path
    assert "credentials.json" in holders  # the scan does see a secret where one is
    setup = (stack.logs / "setup.log").read_text(encoding="utf-8")
    assert "api_key: '***'" in setup  # argilla-server prints the owner's key: masked
    assert not [h for h in holders if h.startswith("logs/")]
    for record in stack.status().processes:
        raw = Path(f"/proc/{record.pid}/environ").read_bytes()
        names = {item.split(b"=", 1)[0].decode() for item in raw.split(b"\0") if item}
        assert names <= set(INHERITED) | SERVER_ENV, (record.name, names - set(INHERITED))
        assert not any(secret in raw for secret in secrets[3:]), record.name  # planted ones
