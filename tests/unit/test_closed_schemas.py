"""Constrained output is closed JSON: every object the schema does not open takes only its own
keys, for every structured-output method and forced tool calls, in the grammar any backend gets
(llguidance on Transformers, ``grammar`` on TGI: both read ``params.grammar``)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from pydantic import BaseModel, Field
from pydantic import v1 as pydantic_v1
from typing_extensions import TypedDict

from zephyr_integrations import ChatZephyr
from zephyr_integrations.backends.base import Grammar, GrammarError
from zephyr_integrations.backends.grammar import close_objects, compile_grammar, json_length_bound
from zephyr_integrations.structured_output import StructuredOutputError
from zephyr_integrations.testing import ScriptedBackend


class Inner(BaseModel):
    note: str


class Outer(BaseModel):
    """Nested models, a list of them, an optional one and a free-form mapping."""

    name: str
    inner: Inner
    many: list[Inner]
    maybe: Inner | None = None
    extra: dict[str, int] = Field(default_factory=dict)


class InnerV1(pydantic_v1.BaseModel):
    note: str


class OuterV1(pydantic_v1.BaseModel):
    name: str
    inner: InnerV1


class InnerDict(TypedDict):
    note: str


class OuterDict(TypedDict):
    name: str
    inner: InnerDict


OPEN_SCHEMA = {
    "title": "Open",
    "type": "object",
    "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}}},
    "additionalProperties": True,
}


def objects(schema: Any) -> list[dict[str, Any]]:
    """Every object schema inside ``schema`` (with properties, or typed object)."""
    found: list[dict[str, Any]] = []
    if isinstance(schema, list):
        for item in schema:
            found += objects(item)
    elif isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            found.append(schema)
        for value in schema.values():
            found += objects(value)
    return found


def grammar_of(schema: Any, method: str = "json_schema") -> dict[str, Any]:
    backend = ScriptedBackend(reply="{}", grammar=True)
    llm = ChatZephyr(backend=backend)
    # "{}" need not fit the schema (dict schemas are not validated): the grammar is checked
    with contextlib.suppress(StructuredOutputError):
        llm.with_structured_output(schema, method=method).invoke("x")  # type: ignore[arg-type]
    grammar = backend.requests[-1].params.grammar
    assert grammar is not None
    return grammar.schema


@pytest.mark.parametrize("schema", [Outer, OuterV1, OuterDict, Outer.model_json_schema()])
@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_every_object_is_closed_unless_it_opens_itself(schema: Any, method: str) -> None:
    sent = grammar_of(schema, method)
    found = objects(sent)
    assert len(found) >= 2
    for obj in found:
        assert "additionalProperties" in obj, obj
    closed = [obj for obj in found if obj["additionalProperties"] is False]
    assert len(closed) >= 2
    if schema is Outer:
        # dict[str, int] says what its values are: it stays a mapping, not an empty object
        extra = sent.get("$defs", sent)
        assert {"type": "integer"} in [o.get("additionalProperties") for o in objects(extra)]


def test_a_schema_that_opens_itself_stays_open_and_its_children_close() -> None:
    sent = grammar_of(OPEN_SCHEMA)
    assert sent["additionalProperties"] is True
    assert sent["properties"]["a"]["additionalProperties"] is False


def test_forced_tool_calls_close_the_arguments_of_every_tool() -> None:
    backend = ScriptedBackend(reply='{"name": "a", "arguments": {"x": 1}}', grammar=True)
    tool_a = {"name": "a", "description": "A", "parameters": {"type": "object",
              "properties": {"x": {"type": "integer"}}}}  # fmt: skip
    tool_b = {"name": "b", "description": "B", "parameters": {"type": "object",
              "properties": {"y": {"type": "object", "properties": {}}}}}  # fmt: skip
    ChatZephyr(backend=backend).bind_tools([tool_a, tool_b], tool_choice="any").invoke("x")
    sent = backend.requests[-1].params.grammar
    assert sent is not None
    branches = sent.schema["anyOf"]
    assert [b["properties"]["arguments"]["additionalProperties"] for b in branches] == [False] * 2
    assert (
        branches[1]["properties"]["arguments"]["properties"]["y"]["additionalProperties"] is False
    )
    # the shared top-level "arguments" only says "an object": each branch narrows it
    assert sent.schema["properties"]["arguments"]["additionalProperties"] is True


def test_closed_grammar_refuses_extra_keys_and_open_one_accepts_them() -> None:
    llguidance = pytest.importorskip("llguidance")
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    closed = compile_grammar(Grammar.json_schema(close_objects(schema)))
    opened = compile_grammar(Grammar.json_schema(schema))
    extra = '{"a":1,"description":"x"}'
    assert llguidance.LLMatcher.validate_grammar(closed) == ""

    def accepts(grammar: str, text: str) -> bool:
        tokenizer = llguidance.LLTokenizer("byte")  # one token per byte: no model needed
        matcher = llguidance.LLMatcher(tokenizer, grammar)
        for byte in text.encode():
            if not matcher.consume_token(byte):
                return False
        return matcher.is_accepting()

    assert accepts(closed, '{"a":1}') and not accepts(closed, extra)
    assert accepts(opened, extra)


def test_close_objects_leaves_all_of_members_and_branches_beside_properties_open() -> None:
    schema = {
        "type": "object",
        "properties": {"kind": {"type": "string"}},
        "anyOf": [{"properties": {"kind": {"const": "x"}}}],
        "allOf": [{"type": "object", "properties": {"more": {"type": "object"}}}],
    }
    closed = close_objects(schema)
    assert closed["additionalProperties"] is False
    assert "additionalProperties" not in closed["anyOf"][0]
    assert "additionalProperties" not in closed["allOf"][0]
    assert closed["allOf"][0]["properties"]["more"]["additionalProperties"] is False
    union = close_objects({"anyOf": [{"type": "object", "properties": {"a": {}}}]})
    assert union["anyOf"][0]["additionalProperties"] is False  # a plain union's members close


def test_length_bound_follows_the_schema_and_names_what_is_unbounded() -> None:
    schema = close_objects(
        {
            "type": "object",
            "properties": {
                "r": {"type": "integer", "minimum": 1, "maximum": 5},
                "s": {"type": "string", "maxLength": 10},
                "t": {"anyOf": [{"const": "N/A"}, {"type": "boolean"}]},
            },
        }
    )
    longest = '{"r":5,"s":"' + "x" * 10 + '","t":false}'
    assert json_length_bound(schema) == len(longest)
    with pytest.raises(GrammarError, match="open object"):
        json_length_bound({"type": "object", "properties": {}})
    with pytest.raises(GrammarError, match=r"#/properties/s: a string without maxLength"):
        json_length_bound(close_objects({"properties": {"s": {"type": "string"}}}))


def test_response_format_beside_tools_closes_each_branch_and_leaves_the_wrapper_open() -> None:
    backend = ScriptedBackend(reply='{"name": "a", "arguments": {"x": 1}}', grammar=True)
    tool_a = {"name": "a", "description": "A", "parameters": {"type": "object",
              "properties": {"x": {"type": "integer"}}}}  # fmt: skip
    response = {"type": "json_schema", "json_schema": {"name": "Outer",
                "schema": Outer.model_json_schema()}}  # fmt: skip
    ChatZephyr(backend=backend).bind_tools([tool_a], response_format=response).invoke("x")
    sent = backend.requests[-1].params.grammar
    assert sent is not None
    top = sent.schema
    assert top["properties"] == {} and "additionalProperties" not in top  # keys from branches
    call, answer = top["anyOf"]
    assert call["additionalProperties"] is False
    assert call["properties"]["arguments"]["additionalProperties"] is False
    assert answer["additionalProperties"] is False
    assert all(d["additionalProperties"] is False for d in top["$defs"].values())


def test_json_object_stays_any_object() -> None:
    backend = ScriptedBackend(reply='{"k": [1]}', grammar=True)
    ChatZephyr(backend=backend).bind(response_format={"type": "json_object"}).invoke("x")
    sent = backend.requests[-1].params.grammar
    assert sent is not None and sent.schema["additionalProperties"] is True
