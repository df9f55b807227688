"""OpenAI-shaped response_format (as create_agent's ProviderStrategy binds it), alone or with
tools, and call options checked at bind time; on a scripted backend."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.structured_output import ProviderStrategy
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from zephyr_integrations import ChatZephyr
from zephyr_integrations.testing import ScriptedBackend


class Weather(BaseModel):
    """A weather report."""

    city: str
    degrees: int


class Trip(BaseModel):
    """A trip."""

    days: int
    weather: Weather


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"sunny in {city}"


OPENAI_SHAPE = {
    "type": "json_schema",
    "json_schema": {"name": "Weather", "schema": Weather.model_json_schema(), "strict": True},
}
REPORT = '{"city": "Paris", "degrees": 21}'


def chat(reply: str, **kwargs: Any) -> tuple[ChatZephyr, ScriptedBackend]:
    backend = ScriptedBackend(reply=reply, grammar=True)
    return ChatZephyr(backend=backend, **kwargs), backend


def test_openai_shaped_json_schema_is_the_grammar() -> None:
    llm, backend = chat(REPORT)
    message = llm.bind(response_format=OPENAI_SHAPE).invoke("Weather in Paris?")
    assert json.loads(str(message.content)) == {"city": "Paris", "degrees": 21}
    grammar = backend.requests[-1].params.grammar
    assert grammar is not None and grammar.schema["required"] == ["city", "degrees"]
    assert "JSON Schema" in backend.requests[-1].prompt


def test_json_object_asks_for_any_object() -> None:
    llm, backend = chat('{"a": 1}')
    llm.bind(response_format={"type": "json_object"}).invoke("x")
    grammar = backend.requests[-1].params.grammar
    assert grammar is not None
    assert grammar.schema == {"type": "object", "properties": {}, "additionalProperties": True}


def test_a_pydantic_class_is_accepted_as_response_format() -> None:
    llm, backend = chat(REPORT)
    llm.bind(response_format=Weather).invoke("x")
    grammar = backend.requests[-1].params.grammar
    assert grammar is not None and grammar.schema["title"] == "Weather"


def test_with_tools_the_reply_is_a_call_or_the_answer() -> None:
    llm, backend = chat(REPORT)
    bound = llm.bind_tools([get_weather], response_format=OPENAI_SHAPE)
    answer = bound.invoke("Weather in Paris?")
    assert answer.tool_calls == [] and json.loads(str(answer.content))["city"] == "Paris"
    grammar = backend.requests[-1].params.grammar
    assert grammar is not None
    branches = grammar.schema["anyOf"]
    assert branches[0]["properties"]["name"] == {"const": "get_weather"}
    assert branches[1]["required"] == ["city", "degrees"]
    assert "properties" in grammar.schema  # TGI wants it at the top level

    backend.reply = '{"name": "get_weather", "arguments": {"city": "Rome"}}'
    call = bound.invoke("Weather in Rome?")
    assert call.content == "" and call.tool_calls[0]["args"] == {"city": "Rome"}


@pytest.mark.parametrize(
    ("reply", "calls"),
    [(REPORT, 0), ('{"name": "get_weather", "arguments": {"city": "Rome"}}', 1)],
)
def test_streaming_a_call_or_an_answer_sums_to_invoke(reply: str, calls: int) -> None:
    llm, _ = chat(reply)
    bound = llm.bind_tools([get_weather], response_format=OPENAI_SHAPE)
    chunks = list(bound.stream("x"))
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert len(merged.tool_calls) == calls
    assert merged.content == ("" if calls else reply)


def test_nested_definitions_move_to_the_root_of_the_combined_schema() -> None:
    llm, backend = chat('{"days": 2, "weather": {"city": "Oslo", "degrees": 3}}')
    trip_format = {"type": "json_schema", "json_schema": {"name": "Trip", "schema": Trip}}
    trip_format["json_schema"]["schema"] = Trip.model_json_schema()
    llm.bind_tools([get_weather], response_format=trip_format).invoke("x")
    grammar = backend.requests[-1].params.grammar
    assert grammar is not None
    assert "Weather" in grammar.schema["$defs"]
    assert "$defs" not in grammar.schema["anyOf"][1]


def test_a_forced_call_wins_over_response_format() -> None:
    llm, backend = chat('{"name": "get_weather", "arguments": {"city": "Rome"}}')
    bound = llm.bind_tools([get_weather], tool_choice="any", response_format=OPENAI_SHAPE)
    assert bound.invoke("x").tool_calls[0]["name"] == "get_weather"
    grammar = backend.requests[-1].params.grammar
    assert grammar is not None and grammar.schema["properties"]["name"]["const"] == "get_weather"


def test_parallel_tool_calls_false_keeps_one_call() -> None:
    block = '<tool_call>\n{{"name": "get_weather", "arguments": {{"city": "{}"}}}}\n</tool_call>'
    llm, backend = chat(block.format("Rome") + "\n" + block.format("Oslo"))
    both = llm.bind_tools([get_weather]).invoke("x")
    assert [c["args"]["city"] for c in both.tool_calls] == ["Rome", "Oslo"]
    one = llm.bind_tools([get_weather], parallel_tool_calls=False)
    assert [c["args"]["city"] for c in one.invoke("x").tool_calls] == ["Rome"]
    assert "at most one tool" in backend.requests[-1].prompt
    streamed = list(one.stream("x"))
    merged = streamed[0]
    for chunk in streamed[1:]:
        merged += chunk
    assert [c["args"]["city"] for c in merged.tool_calls] == ["Rome"]


def test_parallel_tool_calls_false_keeps_the_first_block_even_when_it_does_not_parse() -> None:
    good = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
    llm, _ = chat("<tool_call>\n{not json}\n</tool_call>\n" + good)
    one = llm.bind_tools([get_weather], parallel_tool_calls=False)
    message = one.invoke("x")
    assert message.tool_calls == [] and len(message.invalid_tool_calls) == 1
    streamed = list(one.stream("x"))
    merged = streamed[0]
    for chunk in streamed[1:]:
        merged += chunk
    assert len(merged.tool_calls) + len(merged.invalid_tool_calls) == 1  # the first block only
    assert "Oslo" not in str(merged.tool_calls)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"logprobs": True}, "logprobs is not supported"),
        ({"n": 2}, "n is not supported"),
        ({"frequency_penality": 1}, "unknown generation parameter.*frequency_penality"),
        ({"parallel_tool_calls": "no"}, "parallel_tool_calls='no' is invalid"),
        ({"model": "other"}, "per-call model override"),
    ],
)
def test_options_that_cannot_be_honoured_are_refused_at_bind_time(
    options: dict[str, Any], message: str
) -> None:
    llm, _ = chat(REPORT)
    with pytest.raises(TypeError, match=message):
        llm.bind_tools([get_weather], **options)
    with pytest.raises(TypeError, match=message):
        llm.bind(**options)


@pytest.mark.parametrize(
    ("response_format", "message"),
    [
        ({"type": "text"}, r"response_format.type='text' is invalid"),
        ({"type": "json_schema"}, r"response_format.json_schema=None is invalid"),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": "a string"}},
            r"response_format.json_schema.schema='a string' is invalid",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array"}}},
            r"response_format.json_schema.schema is invalid: the reply must be a JSON object",
        ),
        ("json", r"response_format='json' is invalid"),
    ],
)
def test_a_response_format_that_is_not_a_json_schema_is_refused_at_bind_time(
    response_format: Any, message: str
) -> None:
    llm, backend = chat(REPORT)
    with pytest.raises(ValueError, match=message):
        llm.bind(response_format=response_format)
    with pytest.raises(ValueError, match=message):
        llm.bind_tools([get_weather], response_format=response_format)
    assert backend.requests == []


def test_max_completion_tokens_is_max_tokens() -> None:
    llm, backend = chat("one two three four")
    message = llm.bind(max_completion_tokens=2).invoke("x")
    assert message.response_metadata["finish_reason"] == "length"
    assert backend.requests[-1].params.max_new_tokens == 2


def test_create_agent_with_provider_strategy_returns_the_parsed_response() -> None:
    llm, backend = chat(REPORT)
    agent = create_agent(llm, tools=[get_weather], response_format=ProviderStrategy(Weather))
    state = agent.invoke({"messages": [HumanMessage("Weather in Paris?")]})
    assert state["structured_response"] == Weather(city="Paris", degrees=21)
    grammar = backend.requests[-1].params.grammar
    assert grammar is not None and len(grammar.schema["anyOf"]) == 2
