"""`zephyr serve` with a third-party backend installed through the entry-point group."""

from __future__ import annotations

import json
import re
import select
import subprocess
import sys
import time
import urllib.request

from tests.unit.test_backend_options import shout_plugin

__all__ = ["shout_plugin"]  # the fixture


def test_zephyr_serve_runs_a_third_party_backend(shout_plugin: dict[str, str]) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "zephyr_integrations.cli", "serve", "--backend", "shout",
         "--model", "m", "-b", "prefix=RE:", "--port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=shout_plugin,
    )  # fmt: skip
    try:
        assert server.stderr is not None
        url, deadline = None, time.monotonic() + 60
        while url is None and time.monotonic() < deadline and server.poll() is None:
            if select.select([server.stderr], [], [], 0.2)[0]:
                found = re.search(r"http://127\.0\.0\.1:\d+", server.stderr.readline())
                url = found.group(0) if found else None
        assert url is not None, "zephyr serve printed no URL"
        request = urllib.request.Request(
            f"{url}/generate",
            data=json.dumps({"inputs": "<|user|>\nping</s>\n<|assistant|>\n"}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read())["generated_text"].startswith("RE:PING")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0  # SIGTERM stops it cleanly, whichever thread receives it
