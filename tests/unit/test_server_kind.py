"""Telling OpenAI-compatible servers apart from what they say about themselves, and asking each
for structured output its own way."""

from __future__ import annotations

import pytest

from zephyr_integrations.backends.base import GenerationParams, Grammar
from zephyr_integrations.backends.openai_completions import structured_output
from zephyr_integrations.backends.server_kind import (
    is_tgi_info,
    is_vllm_version,
    kind_from_models,
)

# /v1/models as each server answers it (owned_by as set in each server's own source).
VLLM = {"object": "list", "data": [{"id": "smollm2", "owned_by": "vllm", "max_model_len": 2048}]}
SGLANG = {"object": "list", "data": [{"id": "smollm2", "owned_by": "sglang"}]}
LLAMACPP = {"object": "list", "data": [{"id": "smollm2", "owned_by": "llamacpp"}]}
TGI = {"object": "list", "data": [{"id": "HuggingFaceH4/zephyr-7b-beta",
                                   "owned_by": "HuggingFaceH4/zephyr-7b-beta"}]}  # fmt: skip
LLAMA_CPP_PYTHON = {"object": "list", "data": [{"id": "smollm2", "owned_by": "me"}]}


@pytest.mark.parametrize(
    ("headers", "body", "kind"),
    [
        ({"server": "uvicorn"}, VLLM, "vllm"),
        ({"server": "uvicorn"}, SGLANG, "sglang"),
        ({}, LLAMACPP, "llamacpp"),
        ({"Server": "llama.cpp"}, LLAMA_CPP_PYTHON, "llamacpp"),
        ({}, LLAMA_CPP_PYTHON, None),
        ({}, TGI, None),  # TGI names the model: told by its /info instead
        ({}, "not json", None),
    ],
)
def test_kind_from_models(headers: dict[str, str], body: object, kind: str | None) -> None:
    assert kind_from_models(headers, body) == kind


def test_tgi_info_and_vllm_version() -> None:
    assert is_tgi_info({"model_id": "z", "max_total_tokens": 4096, "router": "x"})
    assert is_tgi_info({"model_id": "z", "max_input_length": 1024})  # TGI <= 2.0
    assert not is_tgi_info({"detail": "Not Found"})
    assert is_vllm_version({"version": "0.32.0"})
    assert not is_vllm_version({"version": "1", "sha": "abc"})


SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("vllm", {"structured_outputs": {"json": SCHEMA}}),
        ("sglang", {"json_schema": '{"type": "object", "properties": {"a": {"type": "integer"}}}'}),
        ("llamacpp", {"response_format": {"type": "json_object", "schema": SCHEMA}}),
        ("tgi", {"response_format": {"type": "json", "value": SCHEMA}}),
    ],
)
def test_each_kind_is_asked_its_own_way(kind: str, expected: dict[str, object]) -> None:
    params = GenerationParams(grammar=Grammar.json_schema(SCHEMA))
    assert structured_output(kind, params) == expected  # type: ignore[arg-type]


def test_regex_per_kind() -> None:
    params = GenerationParams(grammar=Grammar("regex", "[A-Z]{3}"))
    assert structured_output("vllm", params) == {"structured_outputs": {"regex": "[A-Z]{3}"}}
    assert structured_output("sglang", params) == {"regex": "[A-Z]{3}"}
