"""Tools in the Zephyr prompt: how they are described to the model, and how calls are read back.

Zephyr has no native tool format. Tools are described in the system turn; the model calls one by
writing a block per call, the same way :func:`~zephyr_integrations.template.render_tool_call`
renders calls already in the history::

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import InvalidToolCall, ToolCall

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
        function = tool.get("function", tool)
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"tool {tool!r} has no name")
        return cls(name, function.get("description", ""), function.get("parameters", {}))


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


def parse_tool_calls(text: str) -> tuple[str, list[ToolCall], list[InvalidToolCall]]:
    """Split a reply into its text and the tool calls it wrote (never raises)."""
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for match in _BLOCK.finditer(text):
        raw = match.group(1).strip()
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        try:
            payload = json.loads(raw)
        except json.JSONDecodeError as exc:
            invalid.append(_invalid(None, raw, call_id, f"not valid JSON: {exc}"))
            continue
        if not isinstance(payload, dict) or not isinstance(payload.get("name"), str):
            invalid.append(_invalid(None, raw, call_id, 'expected {"name": ..., "arguments": ...}'))
            continue
        name = payload["name"]
        arguments = payload.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                invalid.append(_invalid(name, raw, call_id, f"arguments are not JSON: {exc}"))
                continue
        if not isinstance(arguments, dict):
            invalid.append(_invalid(name, raw, call_id, "arguments must be a JSON object"))
            continue
        calls.append(ToolCall(name=name, args=arguments, id=call_id, type="tool_call"))
    content = _BLOCK.sub("", text).strip() if (calls or invalid) else text
    return content, calls, invalid


def _invalid(name: str | None, raw: str, call_id: str, error: str) -> InvalidToolCall:
    where = f"tool call {name!r}" if name else "tool call"
    return InvalidToolCall(
        name=name, args=raw, id=call_id, error=f"{where}: {error}", type="invalid_tool_call"
    )
