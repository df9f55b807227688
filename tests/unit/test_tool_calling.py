"""ChatZephyr tool calling on a scripted backend: tool_choice forms, grammars, parsing, streams,
histories and bad input (no weights, no sockets)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool

from zephyr_integrations import ChatZephyr
from zephyr_integrations.backends.base import GrammarError
from zephyr_integrations.testing import ScriptedBackend


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return "sunny"


def chat(reply: str, *, grammar: bool = True, **kwargs: Any) -> tuple[ChatZephyr, ScriptedBackend]:
    backend = ScriptedBackend(reply=reply, grammar=grammar)
    return ChatZephyr(backend=backend, **kwargs), backend


def sent_schema(backend: ScriptedBackend) -> dict[str, Any] | None:
    grammar = backend.requests[-1].params.grammar
    return None if grammar is None else grammar.schema


FORCED_ADD = '{"name": "add", "arguments": {"a": 1, "b": 2}}'


@pytest.mark.parametrize("choice", ["any", "required", True])
def test_any_forces_one_call_of_some_tool(choice: Any) -> None:
    llm, backend = chat(FORCED_ADD)
    message = llm.bind_tools([add, get_weather], tool_choice=choice).invoke("1+2?")
    assert [(c["name"], c["args"], c["type"]) for c in message.tool_calls] == [
        ("add", {"a": 1, "b": 2}, "tool_call")
    ]
    assert message.tool_calls[0]["id"] and message.content == ""
    schema = sent_schema(backend)
    assert schema is not None and schema["properties"]["name"] == {"enum": ["add", "get_weather"]}
    branches = {b["properties"]["name"]["const"]: b for b in schema["anyOf"]}
    assert branches["add"]["properties"]["arguments"]["required"] == ["a", "b"]
    assert branches["add"]["properties"]["arguments"]["additionalProperties"] is False
    assert "You must call at least one tool." in backend.requests[-1].prompt


@pytest.mark.parametrize(
    "choice", ["get_weather", {"type": "function", "function": {"name": "get_weather"}}]
)
def test_a_named_tool_is_forced_by_name_or_openai_dict(choice: Any) -> None:
    llm, backend = chat('{"name": "get_weather", "arguments": {"city": "Paris"}}')
    message = llm.bind_tools([add, get_weather], tool_choice=choice).invoke("Weather?")
    assert message.tool_calls[0]["args"] == {"city": "Paris"}
    schema = sent_schema(backend)
    assert schema is not None and schema["properties"]["name"] == {"const": "get_weather"}
    assert "anyOf" not in schema


@pytest.mark.parametrize("choice", [None, "auto"])
def test_auto_lets_the_model_choose_and_reads_tool_call_blocks(choice: Any) -> None:
    reply = 'Let me add.\n<tool_call>\n{"name": "add", "arguments": {"a": 4, "b": 5}}\n</tool_call>'
    llm, backend = chat(reply)
    message = llm.bind_tools([add], tool_choice=choice).invoke("4+5?")
    assert sent_schema(backend) is None
    assert message.content == "Let me add."
    assert message.tool_calls[0]["name"] == "add" and message.tool_calls[0]["args"] == {
        "a": 4,
        "b": 5,
    }


def test_none_describes_no_tools_and_reads_no_calls() -> None:
    llm, backend = chat('<tool_call>{"name": "add", "arguments": {}}</tool_call>')
    message = llm.bind_tools([add], tool_choice="none").invoke("hi")
    assert message.tool_calls == [] and "<tool_call>" in str(message.content)
    assert sent_schema(backend) is None and "Tools:" not in backend.requests[-1].prompt


def test_unknown_tool_in_tool_choice_is_a_clear_error() -> None:
    llm, _ = chat("")
    with pytest.raises(ValueError, match=r"tool_choice='divide' names no bound tool.*'add'"):
        llm.bind_tools([add], tool_choice="divide")
    with pytest.raises(ValueError, match="names no function"):
        llm.bind_tools([add], tool_choice={"type": "function"})


def test_a_schema_that_cannot_be_a_grammar_is_refused_naming_the_tool() -> None:
    bad = {
        "name": "lookup",
        "description": "Look up",
        "parameters": {"type": "object", "properties": {"key": {"$ref": "#/nowhere"}}},
    }
    llm, _ = chat("")
    with pytest.raises(GrammarError, match=r"tool 'lookup'.*cannot be expressed.*nowhere"):
        llm.bind_tools([bad], tool_choice="any")


def test_a_backend_that_cannot_constrain_is_refused_not_ignored() -> None:
    llm, _ = chat(FORCED_ADD, grammar=False)
    with pytest.raises(GrammarError, match="cannot constrain decoding"):
        llm.bind_tools([add], tool_choice="any").invoke("1+2?")
    assert llm.bind_tools([add]).invoke("1+2?").content  # auto needs no grammar


def test_half_json_becomes_an_invalid_call_naming_the_tool_and_why() -> None:
    llm, _ = chat('{"name": "add", "arguments": {"a": 1,', max_tokens=5)
    message = llm.bind_tools([add], tool_choice="add").invoke("1+2?")
    assert message.tool_calls == []
    (invalid,) = message.invalid_tool_calls
    assert invalid["name"] == "add"
    assert "ended at max_tokens" in (invalid["error"] or "")
    assert "not valid JSON" in (invalid["error"] or "")


def test_a_call_of_an_unbound_tool_is_invalid() -> None:
    llm, _ = chat('<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>')
    message = llm.bind_tools([add]).invoke("hi")
    assert message.tool_calls == []
    assert message.invalid_tool_calls[0]["name"] == "rm_rf"
    assert "no such tool" in (message.invalid_tool_calls[0]["error"] or "")


def _strip_ids(calls: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(call["name"], call["args"]) for call in calls]


@pytest.mark.parametrize(
    ("reply", "choice"),
    [
        (FORCED_ADD, "any"),
        (
            'Two calls.<tool_call>{"name": "add", "arguments": {"a": 1, "b": 2}}</tool_call>\n'
            '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>',
            "auto",
        ),
    ],
)
def test_streamed_tool_call_chunks_aggregate_to_the_invoked_calls(reply: str, choice: str) -> None:
    llm, _ = chat(reply)
    bound = llm.bind_tools([add, get_weather], tool_choice=choice)
    invoked = bound.invoke("go")
    chunks = list(bound.stream("go"))
    with_calls = [c for c in chunks if c.tool_call_chunks]
    assert len(with_calls) >= 2  # name and id first, then the arguments
    assert all(tc["index"] is not None for c in with_calls for tc in c.tool_call_chunks)
    first = with_calls[0].tool_call_chunks[0]
    assert first["name"] and first["id"] and first["args"] == ""
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert isinstance(total, AIMessageChunk)
    assert _strip_ids(total.tool_calls) == _strip_ids(invoked.tool_calls)
    assert len({call["id"] for call in total.tool_calls}) == len(total.tool_calls)
    assert str(total.content).strip() == str(invoked.content).strip()


async def test_async_stream_and_invoke_agree() -> None:
    llm, _ = chat(FORCED_ADD)
    bound = llm.bind_tools([add], tool_choice="any")
    invoked = await bound.ainvoke("go")
    total = None
    async for chunk in bound.astream("go"):
        total = chunk if total is None else total + chunk
    assert total is not None and _strip_ids(total.tool_calls) == _strip_ids(invoked.tool_calls)


def test_history_with_calls_and_results_round_trips_through_the_prompt() -> None:
    llm, backend = chat(FORCED_ADD)
    bound = llm.bind_tools([add], tool_choice="any")
    first = bound.invoke([HumanMessage("1+2?")])
    result = ToolMessage("3", tool_call_id=first.tool_calls[0]["id"], name="add")
    llm.bind_tools([add]).invoke([HumanMessage("1+2?"), first, result])
    prompt = backend.requests[-1].prompt
    call = first.tool_calls[0]
    rendered = {"name": "add", "arguments": {"a": 1, "b": 2}, "id": call["id"]}
    assert f"<|assistant|>\n<tool_call>\n{json.dumps(rendered)}\n</tool_call></s>" in prompt
    assert f'<|user|>\n<tool_response name="add" id="{call["id"]}">\n3\n</tool_response>' in prompt
    # The rendered call reads back as the same call.
    reread = chat(prompt.split("<|assistant|>\n")[-2].split("</s>")[0])[0]
    again = reread.bind_tools([add]).invoke("x").tool_calls
    assert _strip_ids(again) == _strip_ids([call])
