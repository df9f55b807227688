"""OpenAI-shaped ``response_format``: what the reply must be, as a JSON schema for the grammar.

ChatZephyr reads the shapes LangChain sends:

* ``{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}, "strict": ...}}``
  (OpenAI's shape, sent by ``create_agent``'s ``ProviderStrategy``);
* ``{"type": "json_schema", "schema": {...}}`` (what ``with_structured_output`` binds);
* ``{"type": "json_object"}`` (any JSON object);
* a Pydantic model or TypedDict class (as ``ChatOpenAI`` accepts).

The reply is generated under constrained decoding either way. With tools bound (and no forced
call), the model may still call a tool: the reply is then constrained to *either* one call,
written as bare JSON ``{"name": ..., "arguments": {...}}``, *or* the response JSON, and
:func:`split_reply` tells them apart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import InvalidToolCall, ToolCall
from langchain_core.utils.function_calling import convert_to_json_schema

from zephyr_integrations.backends.grammar import check_json_schema
from zephyr_integrations.tools import ToolSpec, parse_forced_call

_KINDS = ("json_schema", "json_object")
_DEFS = ("$defs", "definitions")


@dataclass(frozen=True)
class ResponseFormat:
    """A ``response_format`` read once: the schema the reply is constrained to.

    ``shown`` is the schema described to the model in the system turn (``None`` for any object).
    """

    schema: dict[str, Any]
    shown: dict[str, Any] | None

    @classmethod
    def read(cls, response_format: Any) -> ResponseFormat:
        """Read ``response_format``; raise ``ValueError`` naming the field that is wrong."""
        if isinstance(response_format, type):
            try:
                schema = convert_to_json_schema(response_format)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"response_format={response_format.__name__} is invalid: expected a "
                    f"Pydantic model or TypedDict class ({exc})"
                ) from exc
            return cls._checked(schema, "response_format")
        if not isinstance(response_format, Mapping):
            raise ValueError(
                f"response_format={response_format!r} is invalid: expected "
                '{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}} '
                'or {"type": "json_object"}'
            )
        kind = response_format.get("type")
        if kind not in _KINDS:
            raise ValueError(
                f"response_format.type={kind!r} is invalid: expected 'json_schema' or "
                "'json_object' (Zephyr replies are text, or JSON under constrained decoding)"
            )
        if kind == "json_object":
            # any object: explicitly open, or the grammar's closing would allow only {}
            return cls({"type": "object", "properties": {}, "additionalProperties": True}, None)
        where = "response_format.schema"
        found: Any = response_format.get("schema")
        if found is None:
            spec = response_format.get("json_schema")
            if not isinstance(spec, Mapping):
                raise ValueError(
                    f"response_format.json_schema={spec!r} is invalid: expected "
                    '{"name": ..., "schema": {...}}'
                )
            where = "response_format.json_schema.schema"
            found = spec.get("schema")
        return cls._checked(found, where)

    @classmethod
    def _checked(cls, schema: Any, where: str) -> ResponseFormat:
        if not isinstance(schema, Mapping):
            raise ValueError(f"{where}={schema!r} is invalid: expected a JSON schema object")
        if schema.get("type", "object") != "object":
            raise ValueError(
                f"{where} is invalid: the reply must be a JSON object (type 'object'), "
                f"got type {schema.get('type')!r}"
            )
        check_json_schema(schema, where)
        return cls(dict(schema), dict(schema))

    def with_tools(self, tools: Sequence[ToolSpec]) -> dict[str, Any]:
        """The schema of a reply that is one call of ``tools`` or this response.

        TGI wants ``properties`` at the top level of a grammar, and ``$ref`` paths start at the
        root, so the response schema's definitions move to the root.
        """
        response = {k: v for k, v in self.schema.items() if k not in _DEFS}
        defs: dict[str, Any] = {}
        for key in _DEFS:
            defs.update(self.schema.get(key) or {})
        calls = [
            {
                "type": "object",
                "properties": {"name": {"const": tool.name}, "arguments": dict(tool.parameters)},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
            for tool in tools
        ]
        combined: dict[str, Any] = {"type": "object", "properties": {}, "anyOf": [*calls, response]}
        if defs:
            key = next((k for k in _DEFS if k in self.schema), "$defs")
            combined[key] = defs
        return combined

    def instructions(self, tools: Sequence[ToolSpec]) -> str:
        """The system-turn text asking for this JSON (or, with ``tools``, a call or it)."""
        want = "a single JSON object and nothing else"
        if self.shown is not None:
            want += ". It must match this JSON Schema:\n" + json.dumps(
                self.shown, ensure_ascii=False
            )
        if not tools:
            return f"Reply with {want}"
        return (
            'To call a tool, reply with only {"name": "<tool name>", "arguments": {...}}. '
            f"To answer, reply with {want}"
        )


def split_reply(
    text: str, tools: Sequence[ToolSpec], finish_reason: str | None
) -> tuple[str, list[ToolCall], list[InvalidToolCall]]:
    """A reply constrained by :meth:`ResponseFormat.with_tools`: a tool call, or the answer.

    The reply is a call when it is ``{"name": <a bound tool>, "arguments": {...}}`` and nothing
    more; anything else is the answer, kept as the message's text.
    """
    names = [tool.name for tool in tools]
    if is_call(text, names):
        calls, invalid = parse_forced_call(text, names, finish_reason)
        return "", calls, invalid
    return text, [], []


def is_call(text: str, names: Sequence[str]) -> bool:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return False
    return (
        isinstance(value, dict)
        and set(value) == {"name", "arguments"}
        and value["name"] in names
        and isinstance(value["arguments"], dict)
    )
