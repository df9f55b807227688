"""`zephyr export --push-to-hub` against a local stand-in for the Hub's HTTP API.

The stand-in answers the four calls huggingface_hub makes for a commit of small files:
``POST /api/repos/create``, ``POST /api/validate-yaml`` (it parses the card's YAML header),
``POST /api/datasets/<repo>/preupload/<rev>`` and ``POST /api/datasets/<repo>/commit/<rev>``
(NDJSON, files base64-encoded), and keeps what was committed. What it does NOT emulate: the real
Hub answers ``lfs`` for Parquet files and the client then uploads them through LFS/Xet storage;
here every file goes ``regular`` (inline in the commit). So this proves the real client, our token
handling and the folder's contents, not the Hub's large-file path.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from zephyr_integrations.preferences.records import prompt_id

TOKEN = "hf_standInSecret_0123456789"
ZEPHYR = [sys.executable, "-m", "zephyr_integrations.cli"]


class HubStandIn(ThreadingHTTPServer):
    def __init__(self, fail_create: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fail_create = fail_create
        self.requests: list[tuple[str, str, str]] = []  # method, path, authorization
        self.repos: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.commit_messages: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class _Handler(BaseHTTPRequestHandler):
    server: HubStandIn

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        hub = self.server
        hub.requests.append(("POST", self.path, self.headers.get("Authorization", "")))
        if self.path == "/api/repos/create":
            if hub.fail_create:  # a careless server that echoes the credentials it got
                return self._json(401, {"error": f"bad token {self.headers['Authorization']}"})
            request = json.loads(body)
            hub.repos.append(request)
            name = f"{request['organization']}/{request['name']}"
            return self._json(200, {"url": f"{hub.url}/datasets/{name}", "name": name})
        if self.path == "/api/validate-yaml":
            content = json.loads(body)["content"]
            header = yaml.safe_load(content.split("---")[1])
            errors = [] if isinstance(header, dict) else [{"message": "no YAML mapping"}]
            return self._json(400 if errors else 200, {"errors": errors, "warnings": []})
        if "/preupload/" in self.path:
            files = json.loads(body)["files"]
            modes = [{"path": f["path"], "uploadMode": "regular"} for f in files]
            return self._json(200, {"files": [{**m, "shouldIgnore": False} for m in modes]})
        if "/commit/" in self.path:
            for line in body.decode().splitlines():
                item = json.loads(line)
                if item["key"] == "header":
                    hub.commit_messages.append(item["value"]["summary"])
                elif item["key"] == "file":
                    hub.files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            commit = f"{hub.url}/datasets/me/prefs/commit/{'0' * 40}"
            return self._json(200, {"commitUrl": commit, "commitOid": "0" * 40})
        return self._json(404, {"error": f"stand-in does not serve {self.path}"})

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def _start(**options: Any) -> Iterator[HubStandIn]:
    hub = HubStandIn(**options)
    thread = threading.Thread(target=hub.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        hub.shutdown()
        hub.server_close()
        thread.join(timeout=5)


@pytest.fixture
def hub() -> Iterator[HubStandIn]:
    yield from _start()


@pytest.fixture
def refusing_hub() -> Iterator[HubStandIn]:
    yield from _start(fail_create=True)


def _source(tmp_path: Path) -> Path:
    lines = []
    for i in range(20):
        prompt = f"question {i}"
        lines.append(
            json.dumps(
                {
                    "prompt_id": prompt_id(prompt),
                    "prompt": prompt,
                    "source": "ai",
                    "completions": [
                        {"model": "a", "response": f"good {i}", "score": 8.0},
                        {"model": "b", "response": f"bad {i}", "score": 2.0},
                    ],
                }
            )
        )
    path = tmp_path / "rated.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _export(tmp_path: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_ENDPOINT": url, "HF_TOKEN": TOKEN, "NO_COLOR": "1", "COLUMNS": "200"}
    env.pop("HF_HUB_OFFLINE", None)
    command = [*ZEPHYR, "export", str(_source(tmp_path)), "-o", str(tmp_path / "prefs")]
    return subprocess.run(
        [*command, "--push-to-hub", "me/prefs", "--private"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_push_uploads_exactly_the_exported_folder(hub: HubStandIn, tmp_path: Path) -> None:
    from datasets import load_dataset

    done = _export(tmp_path, hub.url)
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
    assert "uploaded" in done.stderr

    (repo,) = hub.repos
    assert (repo["organization"], repo["name"], repo["type"]) == ("me", "prefs", "dataset")
    assert repo.get("private") is True or repo.get("visibility") == "private"
    assert {auth for _, _, auth in hub.requests} == {f"Bearer {TOKEN}"}
    folder = tmp_path / "prefs"
    local = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert hub.files == local
    assert any(path.startswith("data/train_prefs-") for path in hub.files)

    # What the Hub holds reads back as the same dataset.
    mirror = tmp_path / "mirror"
    for path, content in hub.files.items():
        (mirror / path).parent.mkdir(parents=True, exist_ok=True)
        (mirror / path).write_bytes(content)
    uploaded, exported = load_dataset(str(mirror)), load_dataset(str(folder))
    assert list(uploaded) == list(exported)
    for split in exported:
        assert uploaded[split].to_list() == exported[split].to_list()


def test_a_refused_push_is_one_line_without_the_token(
    refusing_hub: HubStandIn, tmp_path: Path
) -> None:
    done = _export(tmp_path, refusing_hub.url)
    assert done.returncode == 3
    assert "upload of" in done.stderr and "me/prefs" in done.stderr
    assert TOKEN not in done.stdout + done.stderr
    assert refusing_hub.files == {}
