"""argilla-server's own virtual environment, created on first use under the cache folder.

argilla-server 2.8 pins pydantic 2.9, fastapi 0.115, typer<0.10 and more, which clash with the
project's environment, so it lives apart (pipx-style) and is only spoken to over HTTP. The venv is
built in a side folder and renamed into place, so a failed install leaves nothing half-made.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from zephyr_integrations.argilla_stack.config import SERVER_REQUIREMENTS


class ServerInstallError(RuntimeError):
    """The argilla-server environment could not be created."""


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_server_venv(venv: Path, *, base_python: str | None = None) -> Path:
    """Return the venv's python, creating the venv with the pinned server on first use."""
    python = venv_python(venv)
    if python.exists():
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second caller waits, then finds the venv made
        if python.exists():
            return python
        partial = venv.parent / f".{venv.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        base = base_python or _base_python()
        try:
            _run([base, "-m", "venv", str(partial)])
            # One pip command: pinning click separately lets the resolver pick a clashing one.
            _run(
                [
                    str(partial / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    *SERVER_REQUIREMENTS,
                ]
            )
        except ServerInstallError:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        os.replace(partial, venv)
    return python


def noida_binary(venv: Path) -> Path:
    """The noida-db native binary inside the venv (run directly: its Python wrapper would leave
    the binary running when killed)."""
    found = sorted((venv / "lib").glob("python*/site-packages/noida_db/noida-db"))
    if not found:
        raise ServerInstallError(f"{venv}: noida-db is not installed in the server venv")
    binary = found[0]
    binary.chmod(binary.stat().st_mode | 0o111)
    return binary


def _base_python() -> str:
    # The interpreter a venv was made from (sys.base_prefix), not the project's venv python.
    for name in (f"python{sys.version_info.major}.{sys.version_info.minor}", "python3"):
        candidate = Path(sys.base_prefix) / "bin" / name
        if candidate.exists():
            return str(candidate)
    return sys.executable


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ServerInstallError(f"`{' '.join(command[:4])} ...` failed: {tail[0]}")
