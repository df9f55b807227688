"""The Zephyr chat format: LangChain messages -> the exact prompt Zephyr was trained on.

The official template (``chat_template.jinja`` beside this module, byte for byte the one in
HuggingFaceH4/zephyr-7b-beta) renders each turn as ``<|role|>\\n{content}</s>\\n`` and appends
``<|assistant|>\\n`` when a generation prompt is asked for. It adds no BOS: the tokenizer adds
``<s>`` once when the prompt is tokenized.

The official template silently drops every role but system, user and assistant. We do not:

* an ``AIMessage`` with tool calls is an assistant turn whose text is followed by one
  ``<tool_call>`` block per call, holding ``{"name": ..., "arguments": {...}, "id": ...}``;
* a ``ToolMessage`` (or legacy ``FunctionMessage``) is a user turn holding a
  ``<tool_response>`` block with the tool's name, the call id and, for failures,
  ``status="error"``;
* list content is flattened: text blocks are concatenated (as ``BaseMessage.text`` does),
  reasoning blocks are left out (a model's private reasoning is not part of the dialogue), and
  tool-call blocks are rendered from ``tool_calls``; image, audio, video and file blocks raise
  :class:`UnsupportedContentError`, since Zephyr reads text only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any, Literal

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    convert_to_messages,
)
from langchain_core.messages.tool import ToolCall

Role = Literal["system", "user", "assistant"]

EOS = "</s>"
"""The end-of-turn marker Zephyr was trained with (rendered from the template's ``eos_token``)."""

GENERATION_PROMPT = "<|assistant|>\n"

_MULTIMODAL_BLOCKS = frozenset(
    {"image", "image_url", "input_image", "audio", "input_audio", "video", "file", "document"}
)
_REASONING_BLOCKS = frozenset({"reasoning", "thinking", "redacted_thinking"})
_TOOL_CALL_BLOCKS = frozenset({"tool_call", "tool_use", "function_call"})
_CHAT_MESSAGE_ROLES: Mapping[str, Role] = {
    "system": "system",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
}


class MessageFormatError(ValueError):
    """A conversation that cannot be rendered in the Zephyr format."""


class UnsupportedContentError(MessageFormatError):
    """A content block Zephyr cannot read (image, audio, video, file...)."""


def official_chat_template() -> str:
    """Zephyr-7B-beta's ``chat_template``, byte for byte."""
    return (
        resources.files("zephyr_integrations")
        .joinpath("chat_template.jinja")
        .read_text(encoding="utf-8")
    )


def format_messages(messages: Sequence[Any], add_generation_prompt: bool = True) -> str:
    """Render a conversation as a Zephyr prompt (without BOS).

    ``messages`` are LangChain messages, or anything ``convert_to_messages`` accepts
    (``("user", "hi")`` tuples, ``{"role": ..., "content": ...}`` dicts, strings).
    """
    turns = to_turns(messages)
    prompt = "".join(f"<|{role}|>\n{content}{EOS}\n" for role, content in turns)
    return prompt + GENERATION_PROMPT if add_generation_prompt else prompt


def to_turns(messages: Sequence[Any]) -> list[tuple[Role, str]]:
    """Map a conversation to ``(role, content)`` turns of the Zephyr template."""
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise MessageFormatError(
            f"messages must be a list of messages, got {type(messages).__name__}"
        )
    if not messages:
        raise MessageFormatError("messages is empty: a Zephyr prompt needs at least one message")
    try:
        converted = convert_to_messages(messages)
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise MessageFormatError(f"messages could not be read as chat messages: {exc}") from exc
    return [_to_turn(index, message) for index, message in enumerate(converted)]


def _to_turn(index: int, message: BaseMessage) -> tuple[Role, str]:
    where = f"messages[{index}] ({type(message).__name__})"
    if isinstance(message, SystemMessage):
        return "system", _flatten(where, message.content)
    if isinstance(message, HumanMessage):
        return "user", _flatten(where, message.content)
    if isinstance(message, AIMessage):
        return "assistant", _assistant_text(where, message)
    if isinstance(message, ToolMessage):
        status: Literal["error"] | None = "error" if message.status == "error" else None
        return "user", render_tool_response(
            _flatten(where, message.content), message.name, message.tool_call_id, status
        )
    if isinstance(message, FunctionMessage):
        return "user", render_tool_response(_flatten(where, message.content), message.name)
    if isinstance(message, ChatMessage):
        role = _CHAT_MESSAGE_ROLES.get(message.role.lower())
        if role is None:
            raise MessageFormatError(
                f"{where}: role {message.role!r} has no Zephyr turn; "
                f"use one of {sorted(_CHAT_MESSAGE_ROLES)}"
            )
        return role, _flatten(where, message.content)
    raise MessageFormatError(
        f"{where}: message type {message.type!r} cannot be rendered in the Zephyr format"
    )


def _assistant_text(where: str, message: AIMessage) -> str:
    text = _flatten(where, message.content)
    calls: list[ToolCall] = list(message.tool_calls)
    known_ids = {call.get("id") for call in calls}
    if isinstance(message.content, list):
        for block in message.content:
            if not isinstance(block, dict) or block.get("type") not in _TOOL_CALL_BLOCKS:
                continue
            if block.get("id") not in known_ids:
                calls.append(_block_to_call(where, block))
    rendered = [render_tool_call(call["name"], call["args"], call.get("id")) for call in calls]
    return "\n".join(part for part in [text, *rendered] if part) if rendered else text


def _block_to_call(where: str, block: Mapping[str, Any]) -> ToolCall:
    args = block.get("args", block.get("input", block.get("arguments", {})))
    if isinstance(args, str):
        try:
            args = json.loads(args) if args else {}
        except json.JSONDecodeError as exc:
            raise MessageFormatError(
                f"{where}: tool call block {block.get('name')!r} has arguments that are not JSON"
            ) from exc
    return ToolCall(name=str(block.get("name", "")), args=args, id=block.get("id"))


def _flatten(where: str, content: str | list[str | dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for position, block in enumerate(content):
        if isinstance(block, str):
            parts.append(block)
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind in _MULTIMODAL_BLOCKS:
            raise UnsupportedContentError(
                f"{where}: content block {position} is {kind!r}; Zephyr is a text-only model, "
                "so send text (for example a transcript or a description) instead"
            )
        elif kind in _REASONING_BLOCKS or kind in _TOOL_CALL_BLOCKS:
            continue
        else:
            raise MessageFormatError(
                f"{where}: content block {position} has unknown type {kind!r}; "
                "only text blocks can be rendered"
            )
    return "".join(parts)


def render_tool_call(name: str, args: Mapping[str, Any], call_id: str | None = None) -> str:
    """An assistant's tool call as the model reads (and writes) it."""
    payload: dict[str, Any] = {"name": name, "arguments": dict(args)}
    if call_id:
        payload["id"] = call_id
    return f"<tool_call>\n{json.dumps(payload, ensure_ascii=False)}\n</tool_call>"


def render_tool_response(
    content: str,
    name: str | None = None,
    call_id: str | None = None,
    status: Literal["error"] | None = None,
) -> str:
    """A tool's result as a user turn the model can read."""
    attributes = "".join(
        f' {key}="{value}"'
        for key, value in (("name", name), ("id", call_id), ("status", status))
        if value
    )
    return f"<tool_response{attributes}>\n{content}\n</tool_response>"
