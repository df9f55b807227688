"""``zephyr serve``'s server is product code (zephyr_integrations.serving): it keeps no record
of the requests it answers and injects no faults; zephyr_integrations.testing's TGIServer is the
same server with both."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from zephyr_integrations import serving, testing
from zephyr_integrations.testing.scripted_backend import ScriptedBackend


def generate(url: str, text: str) -> tuple[str, str | None]:
    body = {"inputs": text, "parameters": {"max_new_tokens": 4, "details": True}}
    request = urllib.request.Request(
        f"{url}/generate", json.dumps(body).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["generated_text"], response.headers["x-prompt-tokens"]


def test_the_served_server_answers_and_remembers_nothing() -> None:
    with serving.TGIServer(ScriptedBackend(), model_id="zephyr") as server:
        assert [generate(server.url, f"word{i}")[0] for i in range(20)] == [
            f"word{i}" for i in range(20)
        ]
        assert generate(server.url, "two words")[1] == "3"  # BOS and two words
        assert not hasattr(server, "requests")  # a long-running server must not grow per call
        for fault in ("fail_next", "scale_from_zero", "cut_stream_after", "latency"):
            assert not hasattr(server, fault)


def test_the_testing_server_is_the_served_one_with_faults_and_a_record() -> None:
    assert issubclass(testing.TGIServer, serving.TGIServer)
    with testing.TGIServer(ScriptedBackend(), model_id="zephyr") as server:
        server.fail_next(1, status=503)
        with pytest.raises(urllib.error.HTTPError) as refused:
            generate(server.url, "hello")
        assert refused.value.code == 503
        assert generate(server.url, "hello")[0] == "hello"
        assert [r.path for r in server.requests] == ["/generate", "/generate"]
