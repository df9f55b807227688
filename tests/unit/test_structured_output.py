"""with_structured_output on a scripted backend: methods, schema kinds, include_raw, async."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel
from pydantic import v1 as pydantic_v1
from typing_extensions import TypedDict

from zephyr_integrations import ChatZephyr
from zephyr_integrations.backends.base import GrammarError
from zephyr_integrations.structured_output import StructuredOutputError
from zephyr_integrations.testing import ScriptedBackend

JOKE = '{"setup": "Why?", "punchline": "Because."}'


class Joke(BaseModel):
    """A joke."""

    setup: str
    punchline: str


class JokeV1(pydantic_v1.BaseModel):
    """A joke."""

    setup: str
    punchline: str


class JokeDict(TypedDict):
    """A joke."""

    setup: str
    punchline: str


JOKE_SCHEMA = {
    "title": "Joke",
    "description": "A joke.",
    "type": "object",
    "properties": {"setup": {"type": "string"}, "punchline": {"type": "string"}},
    "required": ["setup", "punchline"],
}


def chat(reply: str, **kwargs: Any) -> tuple[ChatZephyr, ScriptedBackend]:
    backend = ScriptedBackend(reply=reply, grammar=True)
    return ChatZephyr(backend=backend, **kwargs), backend


@pytest.mark.parametrize("schema", [Joke, JokeV1, JokeDict, JOKE_SCHEMA])
def test_json_schema_method_constrains_to_the_schema_and_parses(schema: Any) -> None:
    llm, backend = chat(JOKE)
    result = llm.with_structured_output(schema).invoke("A joke")
    if isinstance(schema, type) and schema is not JokeDict:
        assert isinstance(result, schema) and result.punchline == "Because."
    else:
        assert result == {"setup": "Why?", "punchline": "Because."}
    grammar = backend.requests[-1].params.grammar
    assert grammar is not None and grammar.schema["required"] == ["setup", "punchline"]
    assert "JSON Schema" in backend.requests[-1].prompt


@pytest.mark.parametrize(
    ("schema", "name"), [(Joke, "Joke"), (JokeDict, "JokeDict"), (JOKE_SCHEMA, "Joke")]
)
def test_function_calling_method_forces_a_call_of_the_schema(schema: Any, name: str) -> None:
    llm, backend = chat(f'{{"name": "{name}", "arguments": {JOKE}}}')
    result = llm.with_structured_output(schema, method="function_calling").invoke("A joke")
    value = result.model_dump() if isinstance(result, BaseModel) else result
    assert value == {"setup": "Why?", "punchline": "Because."}
    grammar = backend.requests[-1].params.grammar
    assert grammar is not None and grammar.schema["properties"]["name"] == {"const": name}


def test_json_mode_asks_for_any_object() -> None:
    llm, backend = chat('{"anything": [1, 2]}')
    assert llm.with_structured_output(method="json_mode").invoke("x") == {"anything": [1, 2]}
    grammar = backend.requests[-1].params.grammar
    assert grammar is not None
    assert grammar.schema == {"type": "object", "properties": {}, "additionalProperties": True}
    with pytest.raises(StructuredOutputError, match="does not match Joke"):
        llm.with_structured_output(Joke, method="json_mode").invoke("x")


def test_include_raw_reports_a_parsing_error_instead_of_raising() -> None:
    llm, _ = chat('{"setup": "Why?", "punch', max_tokens=3)
    out = llm.with_structured_output(Joke, include_raw=True).invoke("A joke")
    assert out["parsed"] is None and out["raw"].content.startswith('{"setup"')
    assert isinstance(out["parsing_error"], StructuredOutputError)
    assert "ended at max_tokens" in str(out["parsing_error"])
    with pytest.raises(StructuredOutputError, match="not complete JSON"):
        llm.with_structured_output(Joke).invoke("A joke")


def test_include_raw_on_success() -> None:
    llm, _ = chat(JOKE)
    out = llm.with_structured_output(JokeDict, include_raw=True).invoke("A joke")
    assert out["parsed"] == {"setup": "Why?", "punchline": "Because."}
    assert out["parsing_error"] is None and out["raw"].content == JOKE


async def test_async_invoke_and_stream_emit_the_parsed_value_once() -> None:
    llm, _ = chat(JOKE)
    structured = llm.with_structured_output(Joke)
    assert (await structured.ainvoke("A joke")).setup == "Why?"
    chunks = [chunk async for chunk in structured.astream("A joke")]
    assert len(chunks) == 1 and isinstance(chunks[0], Joke)


def test_max_string_length_caps_free_strings_in_the_grammar_only() -> None:
    llm, backend = chat(JOKE, max_string_length=7)
    llm.with_structured_output(Joke).invoke("A joke")
    grammar = backend.requests[-1].params.grammar
    assert grammar is not None
    assert grammar.schema["properties"]["setup"] == {"type": "string", "maxLength": 7}


def test_bad_schemas_and_methods_are_clear_errors() -> None:
    llm, _ = chat(JOKE)
    with pytest.raises(GrammarError, match="cannot be expressed"):
        llm.with_structured_output(
            {"title": "X", "type": "object", "properties": {"a": {"not": {"type": "string"}}}}
        )
    with pytest.raises(ValueError, match="method='xml' is invalid"):
        llm.with_structured_output(Joke, method="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a schema"):
        llm.with_structured_output(None)
