"""A LangGraph ReAct agent on ChatZephyr completes a tool round trip on both backends, with the
tiny random model: the first step is a forced, grammar-constrained call, so it is deterministic."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from zephyr_integrations import ChatZephyr
from zephyr_integrations.agents import create_tool_agent
from zephyr_integrations.backends.transformers import TransformersBackend
from zephyr_integrations.testing import TGIServer

CALLS: list[str] = []


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    CALLS.append(city)
    return f"It is sunny in {city}."


@pytest.fixture(scope="module")
def tgi_url(tiny_model_path: Path) -> Iterator[str]:
    import huggingface_hub.constants

    offline = huggingface_hub.constants.HF_HUB_OFFLINE
    huggingface_hub.constants.HF_HUB_OFFLINE = False
    backend = TransformersBackend(str(tiny_model_path), dtype="float32")
    with TGIServer(backend, model_id="tiny-zephyr") as server:
        yield server.url
    huggingface_hub.constants.HF_HUB_OFFLINE = offline


def _llm(backend: str, tiny_model_path: Path, tgi_url: str) -> ChatZephyr:
    common = {"max_tokens": 64, "max_string_length": 12}
    if backend == "tgi":
        return ChatZephyr(backend="tgi", base_url=tgi_url, **common)
    return ChatZephyr(model=str(tiny_model_path), backend_kwargs={"dtype": "float32"}, **common)


@pytest.mark.parametrize("backend", ["transformers", "tgi"])
def test_react_agent_round_trip(backend: str, tiny_model_path: Path, tgi_url: str) -> None:
    CALLS.clear()
    agent = create_tool_agent(_llm(backend, tiny_model_path, tgi_url), [get_weather])
    state = agent.invoke({"messages": [HumanMessage("What is the weather in Paris?")]})
    messages = state["messages"]
    kinds = [type(m).__name__ for m in messages]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    call = messages[1].tool_calls[0]
    assert call["name"] == "get_weather" and isinstance(call["args"]["city"], str)
    assert [call["args"]["city"]] == CALLS  # the tool really ran, with the model's arguments
    assert isinstance(messages[2], ToolMessage) and messages[2].tool_call_id == call["id"]
    assert messages[2].content == f"It is sunny in {CALLS[0]}."
    final = messages[3]
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert final.response_metadata["model_provider"] == "huggingface"


async def test_react_agent_round_trip_async(tiny_model_path: Path, tgi_url: str) -> None:
    agent = create_tool_agent(_llm("tgi", tiny_model_path, tgi_url), [get_weather])
    state = await agent.ainvoke({"messages": [HumanMessage("Weather in Rome?")]})
    assert [type(m).__name__ for m in state["messages"]][1:3] == ["AIMessage", "ToolMessage"]
