"""A TGI-protocol server on the scripted (zero-work) backend, in a process of its own.

Benchmarks use it so the server's threads do not compete with the client for the GIL::

    with scripted_server_process(latency=0.1) as server:
        ChatZephyr(backend="tgi", base_url=server.url)

The process prints its URL on stdout and stops when its stdin closes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerProcess:
    url: str
    pid: int


@contextmanager
def scripted_server_process(
    latency: float = 0.0, model_id: str = "scripted"
) -> Iterator[ServerProcess]:
    """Start the server process, yield its URL and PID, stop it on exit."""
    command = [sys.executable, "-m", __name__, "--latency", str(latency), "--model-id", model_id]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url:
            raise RuntimeError(f"the server process exited with {process.wait()} before serving")
        yield ServerProcess(url=url, pid=process.pid)
    finally:
        process.communicate("", timeout=30)


def main() -> None:
    from zephyr_integrations.testing.scripted_backend import ScriptedBackend
    from zephyr_integrations.testing.tgi_server import TGIServer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--model-id", default="scripted")
    args = parser.parse_args()
    server = TGIServer(
        ScriptedBackend(model="scripted"), model_id=args.model_id, max_concurrent_requests=4096
    )
    server.latency = args.latency
    server.start()
    print(server.url, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
