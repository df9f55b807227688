"""``ChatZephyr.with_structured_output``: replies parsed into a schema.

Three methods, all constrained so that even a weak model's reply parses:

* ``json_schema``: the reply is JSON matching the schema (``response_format``);
* ``function_calling``: the reply is a forced call of a tool shaped like the schema;
* ``json_mode``: the reply is some JSON object, parsed into the schema afterwards.

The schema may be a Pydantic v2 or v1 model (the result is an instance), a TypedDict or a JSON
schema (the result is a dict). The parsed value is emitted once, when the reply is complete.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import PydanticToolsParser
from langchain_core.runnables import Runnable, RunnableLambda, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

from zephyr_integrations.backends.base import GrammarError
from zephyr_integrations.backends.grammar import check_json_schema

if TYPE_CHECKING:
    from zephyr_integrations.chat_model import ChatZephyr

Method = Literal["json_schema", "function_calling", "json_mode"]


class StructuredOutputError(ValueError):
    """A reply that does not parse into the requested schema."""


def structured_output(
    chat: ChatZephyr,
    schema: dict[str, Any] | type | None,
    *,
    method: Method = "json_schema",
    include_raw: bool = False,
    **kwargs: Any,
) -> Runnable[LanguageModelInput, Any]:
    if kwargs:
        raise ValueError(f"with_structured_output got unexpected arguments: {sorted(kwargs)}")
    if method not in ("json_schema", "function_calling", "json_mode"):
        raise ValueError(
            f"method={method!r} is invalid: expected json_schema, function_calling or json_mode"
        )
    if schema is None and method != "json_mode":
        raise ValueError(f"method={method!r} needs a schema (only json_mode works without one)")
    pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    if method == "function_calling":
        assert schema is not None
        tool = convert_to_openai_tool(schema)
        name = tool["function"]["name"]
        llm = chat.bind_tools(
            [schema],
            tool_choice=name,
            ls_structured_output_format={"kwargs": {"method": method}, "schema": tool},
        )
        parse = _tool_parser(schema, name, pydantic)
    else:
        json_schema = convert_to_json_schema(schema) if schema is not None else None
        if method == "json_schema":
            assert json_schema is not None
            check_json_schema(json_schema, f"schema {json_schema.get('title', '')!r}".strip())
            response_format = {"type": "json_schema", "schema": json_schema}
        else:
            response_format = {"type": "json_object"}
        ls_format = {"kwargs": {"method": method}, "schema": json_schema}
        llm = chat.bind(response_format=response_format, ls_structured_output_format=ls_format)
        parse = _json_parser(schema if pydantic else None)
    parser = RunnableLambda(parse, name="parse_structured_output")
    if not include_raw:
        return llm | parser
    parsed = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=_none)
    failed = RunnablePassthrough.assign(parsed=_none)
    with_fallback = parsed.with_fallbacks([failed], exception_key="parsing_error")
    return RunnableMap(raw=llm) | with_fallback


def _none(_: Any) -> None:
    return None


def _json_parser(model: Any) -> Callable[[AIMessage], Any]:
    def parse(message: AIMessage) -> Any:
        text = message.text if isinstance(message.content, list) else str(message.content)
        finish = message.response_metadata.get("finish_reason")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            ended = " (the reply ended at max_tokens)" if finish == "length" else ""
            raise StructuredOutputError(
                f"the reply is not complete JSON{ended}: {exc}; reply: {text[:200]!r}"
            ) from exc
        return _validate(model, value) if model is not None else value

    return parse


def _tool_parser(schema: Any, name: str, pydantic: bool) -> Callable[[AIMessage], Any]:
    tools_parser = PydanticToolsParser(tools=[schema], first_tool_only=True) if pydantic else None

    def parse(message: AIMessage) -> Any:
        for invalid in message.invalid_tool_calls:
            raise StructuredOutputError(f"tool call {name!r} did not parse: {invalid['error']}")
        calls = [call for call in message.tool_calls if call["name"] == name]
        if not calls:
            raise StructuredOutputError(f"the reply made no call of {name!r}")
        if tools_parser is not None:
            return tools_parser.invoke(message)
        return calls[0]["args"]

    return parse


def _validate(model: Any, value: Any) -> Any:
    try:
        if hasattr(model, "model_validate"):
            return model.model_validate(value)
        return model.parse_obj(value)  # Pydantic v1
    except Exception as exc:
        raise StructuredOutputError(f"the reply does not match {model.__name__}: {exc}") from exc


__all__ = ["GrammarError", "StructuredOutputError", "structured_output"]
