"""TGI's ``grammar`` parameter end to end: TGIBackend sends it, the TGI-protocol server checks it
as TGI does and hands it to its backend, which constrains decoding."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import InferenceClient
from huggingface_hub.errors import ValidationError

from zephyr_integrations import ChatZephyr
from zephyr_integrations.backends.transformers import TransformersBackend
from zephyr_integrations.testing import ScriptedBackend, TGIServer

SCHEMA = {
    "title": "Forecast",
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 10}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}


@pytest.fixture(autouse=True)
def _loopback_allowed() -> Iterator[None]:
    import huggingface_hub.constants

    offline = huggingface_hub.constants.HF_HUB_OFFLINE
    huggingface_hub.constants.HF_HUB_OFFLINE = False
    yield
    huggingface_hub.constants.HF_HUB_OFFLINE = offline


def test_tgi_backend_sends_the_grammar_and_the_server_passes_it_on() -> None:
    backend = ScriptedBackend(reply='{"city": "Paris", "days": 3}', grammar=True)
    with TGIServer(backend) as server:
        llm = ChatZephyr(backend="tgi", base_url=server.url)
        assert llm.with_structured_output(SCHEMA).invoke("Weather?") == {"city": "Paris", "days": 3}
        body = next(r.body for r in reversed(server.requests) if r.path == "/generate")
    closed = {**SCHEMA, "additionalProperties": False}  # objects are closed unless opened
    assert body["parameters"]["grammar"] == {"type": "json", "value": closed}
    grammar = backend.requests[-1].params.grammar
    assert grammar is not None and grammar.schema == closed


def test_server_validates_grammars_like_tgi() -> None:
    with TGIServer(ScriptedBackend(grammar=True)) as server:
        client = InferenceClient(base_url=server.url)
        with pytest.raises(ValidationError, match="Grammar must have a 'properties' field"):
            client.text_generation("x", grammar={"type": "json", "value": {"type": "object"}})
        bad = {"type": "object", "properties": {"a": {"$ref": "#/missing"}}}
        with pytest.raises(ValidationError, match="grammar is not valid.*missing"):
            client.text_generation("x", grammar={"type": "json", "value": bad})
    with TGIServer(ScriptedBackend()) as server:  # no supports_grammar
        client = InferenceClient(base_url=server.url)
        with pytest.raises(ValidationError, match="grammar is not supported by this backend"):
            client.text_generation("x", grammar={"type": "json", "value": SCHEMA})


def test_tiny_model_behind_the_server_follows_json_and_regex_grammars(
    tiny_model_path: Path,
) -> None:
    backend = TransformersBackend(str(tiny_model_path), dtype="float32")
    with TGIServer(backend) as server:
        client = InferenceClient(base_url=server.url)
        text = client.text_generation(
            "<|user|>\nWeather?</s>\n<|assistant|>\n",
            max_new_tokens=60,
            return_full_text=False,
            grammar={"type": "json", "value": SCHEMA},
        )
        value = json.loads(text)
        assert set(value) == {"city", "days"} and isinstance(value["days"], int)
        assert len(value["city"]) <= 10
        regex = {"type": "regex", "value": "[0-9]{3}"}
        digits = client.text_generation(
            "x", max_new_tokens=8, grammar=regex, return_full_text=False
        )
        assert len(digits) == 3 and digits.isdigit()
