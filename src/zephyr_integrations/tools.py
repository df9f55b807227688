"""Tools in the Zephyr prompt: how they are described to the model, and how calls are read back.

Zephyr has no native tool format. Tools are described in the system turn; the model calls one by
writing a block per call, the same way :func:`~zephyr_integrations.template.render_tool_call`
renders calls already in the history::

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

When a call is forced (``tool_choice`` ``"any"``/``"required"`` or a tool's name), the reply is
constrained to exactly one call, written as bare JSON ``{"name": ..., "arguments": {...}}``
(see :func:`forced_call_schema`), so that even a weak model's call matches the tool's schema.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import InvalidToolCall, ToolCall

from zephyr_integrations.backends.base import GrammarError
from zephyr_integrations.backends.grammar import check_json_schema

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)


@dataclass(frozen=True)
class ToolSpec:
    """A tool as OpenAI-style function JSON: ``{"name", "description", "parameters"}``."""

    name: str
    description: str
    parameters: Mapping[str, Any]

    @classmethod
    def from_openai(cls, tool: Mapping[str, Any]) -> ToolSpec:
        """Read an OpenAI-style tool; a schema that cannot constrain decoding is refused here."""
        function = tool.get("function", tool)
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"tool {tool!r} has no name")
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, Mapping):
            raise GrammarError(f"tool {name!r}: parameters must be a JSON schema object")
        check_json_schema(parameters, f"tool {name!r}")
        return cls(name, function.get("description", ""), parameters)


FORCED = ("any", "required")
"""The ``tool_choice`` values that force some call (normalized to ``"any"``)."""


def normalize_tool_choice(
    tool_choice: str | Mapping[str, Any] | bool | None, names: Sequence[str]
) -> str | None:
    """``None``, ``"auto"``, ``"none"``, ``"any"`` or a bound tool's name.

    Accepts ``True`` (any), ``False`` (none given), ``"required"`` (any), a name, and
    OpenAI-style ``{"type": "function", "function": {"name": ...}}`` (or ``{"name": ...}``).
    """
    if tool_choice is None or tool_choice is False:
        return None
    if tool_choice is True or tool_choice in FORCED:
        return "any"
    if isinstance(tool_choice, Mapping):
        function = tool_choice.get("function")
        name = (function if isinstance(function, Mapping) else tool_choice).get("name")
        if not isinstance(name, str):
            raise ValueError(f"tool_choice={dict(tool_choice)!r} names no function")
        tool_choice = name
    if not isinstance(tool_choice, str):
        raise ValueError(f"tool_choice={tool_choice!r} is invalid")
    if tool_choice in ("auto", "none"):
        return tool_choice
    if tool_choice not in names:
        bound = ", ".join(repr(name) for name in names) or "none"
        raise ValueError(f"tool_choice={tool_choice!r} names no bound tool; bound tools: {bound}")
    return tool_choice


def is_forced(tool_choice: str | None) -> bool:
    return tool_choice is not None and tool_choice not in ("auto", "none")


def forced_call_schema(tools: Sequence[ToolSpec], tool_choice: str) -> dict[str, Any]:
    """The JSON schema of one forced call: ``{"name": <a tool>, "arguments": <its schema>}``.

    With several tools the name/arguments pairs are ``anyOf`` branches; ``properties`` stays at
    the top level, as TGI requires of a grammar. The grammar closes every object the tools'
    schemas leave open (see :func:`~zephyr_integrations.backends.grammar.close_objects`).
    """
    chosen = [t for t in tools if tool_choice in FORCED or t.name == tool_choice]

    def call(spec: ToolSpec) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"name": {"const": spec.name}, "arguments": dict(spec.parameters)},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }

    if len(chosen) == 1:
        return call(chosen[0])
    return {
        "type": "object",
        "properties": {
            "name": {"enum": [t.name for t in chosen]},
            # Any object here: each branch below says which arguments its tool takes.
            "arguments": {"type": "object", "additionalProperties": True},
        },
        "required": ["name", "arguments"],
        "additionalProperties": False,
        "anyOf": [call(spec) for spec in chosen],
    }


def parse_forced_call(
    text: str, names: Sequence[str], ended_by: str | None = None
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """Read a forced reply (bare JSON, one call); never raises.

    ``ended_by`` is the finish reason, quoted when the JSON is incomplete (``length``: the
    token budget ran out mid-call).
    """
    call_id = new_call_id()
    name = _name_in(text)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        why = f"not valid JSON ({exc})"
        if ended_by == "length":
            why = f"the reply ended at max_tokens before the call was complete; {why}"
        return [], [_invalid(name, text, call_id, why)]
    return _read_call(payload, text, call_id, names)


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


_NAME = re.compile(r'^\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _name_in(text: str) -> str | None:
    """The tool name at the start of a (possibly partial) ``{"name": ...`` reply."""
    match = _NAME.match(text)
    if match is None:
        return None
    try:
        name = json.loads(f'"{match.group(1)}"')
    except json.JSONDecodeError:
        return None
    return name if isinstance(name, str) else None


def tool_instructions(tools: Sequence[ToolSpec], tool_choice: str | None) -> str:
    """The system-turn text that tells the model which tools it has and how to call them."""
    listing = "\n".join(
        json.dumps(
            {"name": t.name, "description": t.description, "parameters": t.parameters},
            ensure_ascii=False,
        )
        for t in tools
    )
    if tool_choice in ("any", "required"):
        rule = "You must call at least one tool."
    elif tool_choice and tool_choice != "auto":
        rule = f"You must call the tool {tool_choice!r}."
    else:
        rule = "Call a tool only when it helps; otherwise answer directly."
    return (
        "You can call the tools listed below. To call a tool, reply with one block per call:\n"
        f'{TOOL_CALL_OPEN}\n{{"name": "<tool name>", "arguments": {{<arguments>}}}}\n'
        f"{TOOL_CALL_CLOSE}\n"
        "The arguments must match the tool's JSON Schema. A tool's result comes back in a "
        f"<tool_response> block. {rule}\n\nTools:\n{listing}"
    )


def parse_tool_calls(
    text: str, names: Sequence[str] | None = None
) -> tuple[str, list[ToolCall], list[InvalidToolCall]]:
    """Split a reply into its text and the ``<tool_call>`` blocks it wrote (never raises).

    With ``names``, a call to a tool not among them is invalid.
    """
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for match in _BLOCK.finditer(text):
        raw = match.group(1).strip()
        call_id = new_call_id()
        try:
            payload = json.loads(raw)
        except json.JSONDecodeError as exc:
            invalid.append(_invalid(_name_in(raw), raw, call_id, f"not valid JSON: {exc}"))
            continue
        good, bad = _read_call(payload, raw, call_id, names)
        calls += good
        invalid += bad
    content = _BLOCK.sub("", text).strip() if (calls or invalid) else text
    return content, calls, invalid


def _read_call(
    payload: Any, raw: str, call_id: str, names: Sequence[str] | None
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
        return [], [_invalid(None, raw, call_id, 'expected {"name": ..., "arguments": ...}')]
    name = payload["name"]
    if names is not None and name not in names:
        bound = ", ".join(repr(n) for n in names)
        return [], [_invalid(name, raw, call_id, f"no such tool; bound tools: {bound}")]
    arguments = payload.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            return [], [_invalid(name, raw, call_id, f"arguments are not JSON: {exc}")]
    if not isinstance(arguments, dict):
        return [], [_invalid(name, raw, call_id, "arguments must be a JSON object")]
    return [ToolCall(name=name, args=arguments, id=call_id, type="tool_call")], []


def _invalid(name: str | None, raw: str, call_id: str, error: str) -> InvalidToolCall:
    where = f"tool call {name!r}" if name else "tool call"
    return InvalidToolCall(
        name=name, args=raw, id=call_id, error=f"{where}: {error}", type="invalid_tool_call"
    )
