"""Backend generations as LangChain messages: text, tool calls, usage and metadata.

Used by :class:`~zephyr_integrations.chat_model.ChatZephyr`; knows the reply formats of
:mod:`zephyr_integrations.tools` (``<tool_call>`` blocks, or one bare-JSON call when forced).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    InvalidToolCall,
    SystemMessage,
    ToolCall,
    ToolCallChunk,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from zephyr_integrations.backends.base import FinishReason, Generation
from zephyr_integrations.response_format import is_call, split_reply
from zephyr_integrations.tool_stream import ToolCallStream
from zephyr_integrations.tools import (
    TOOL_CALL_OPEN,
    ToolSpec,
    is_forced,
    parse_forced_call,
    parse_tool_calls,
)

MODEL_PROVIDER = "huggingface"
FINISH_REASONS: dict[FinishReason, str] = {
    "eos_token": "stop",
    "stop_sequence": "stop",
    "length": "length",
}


def tools_in_use(kwargs: Mapping[str, Any]) -> list[ToolSpec]:
    """The bound tools the model may call (none when ``tool_choice="none"``)."""
    if kwargs.get("tool_choice") == "none":
        return []
    return list(kwargs.get("tools") or [])


def call_or_answer(kwargs: Mapping[str, Any]) -> bool:
    """Whether the reply is one bare-JSON call or the ``response_format`` JSON (tools bound,
    no call forced, a ``response_format`` given)."""
    return (
        bool(tools_in_use(kwargs))
        and kwargs.get("response_format") is not None
        and not is_forced(kwargs.get("tool_choice"))
    )


def one_call_only(kwargs: Mapping[str, Any]) -> bool:
    """``parallel_tool_calls=False``: a reply makes at most one call (the first is kept)."""
    return kwargs.get("parallel_tool_calls") is False


def split_tool_calls(
    generation: Generation, kwargs: Mapping[str, Any]
) -> tuple[str, list[ToolCall], list[InvalidToolCall]]:
    """The reply's text and the tool calls it made (what cannot be read is invalid)."""
    tools = tools_in_use(kwargs)
    if not tools:
        return generation.text, [], []
    names = [tool.name for tool in tools]
    if call_or_answer(kwargs):
        return split_reply(generation.text, tools, generation.finish_reason)
    if is_forced(kwargs.get("tool_choice")):
        calls, invalid = parse_forced_call(generation.text, names, generation.finish_reason)
        return "", calls, invalid
    text = generation.text
    if one_call_only(kwargs):  # the first call block only, readable or not
        first = text.find(TOOL_CALL_OPEN)
        second = -1 if first == -1 else text.find(TOOL_CALL_OPEN, first + 1)
        text = text if second == -1 else text[:second]
    return parse_tool_calls(text, names)


def usage(generation: Generation) -> UsageMetadata | None:
    """Token usage; left out when the backend could not count the prompt's tokens."""
    if generation.prompt_tokens is None:
        return None
    return UsageMetadata(
        input_tokens=generation.prompt_tokens,
        output_tokens=generation.completion_tokens,
        total_tokens=generation.prompt_tokens + generation.completion_tokens,
    )


def response_metadata(generation: Generation, model: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "model_name": generation.model or model,
        "model_provider": MODEL_PROVIDER,
        "finish_reason": FINISH_REASONS[generation.finish_reason],
    }
    if generation.stop_sequence is not None:
        metadata["stop_sequence"] = generation.stop_sequence
    return metadata


def to_result(generation: Generation, kwargs: Mapping[str, Any], model: str) -> ChatResult:
    text, tool_calls, invalid = split_tool_calls(generation, kwargs)
    message = AIMessage(
        content=text,
        tool_calls=tool_calls,
        invalid_tool_calls=invalid,
        usage_metadata=usage(generation),
        response_metadata=response_metadata(generation, model),
    )
    return ChatResult(generations=[ChatGeneration(message=message)])


class StreamAssembler:
    """Turns backend text deltas into chunks; tool calls become ``tool_call_chunks``."""

    def __init__(self, kwargs: Mapping[str, Any], model: str, stream_usage: bool) -> None:
        self.model = model
        self.stream_usage = stream_usage
        tools = tools_in_use(kwargs)
        forced = is_forced(kwargs.get("tool_choice"))
        self.names = [t.name for t in tools]
        # A reply that is a call or the response JSON is told apart once it is complete.
        self.held = call_or_answer(kwargs)
        self.one_call = one_call_only(kwargs)
        either = forced or self.held
        self.tools = ToolCallStream(self.names, either) if tools else None

    def feed(self, text: str, generation: Generation | None) -> Iterator[ChatGenerationChunk]:
        if generation is None:
            if self.held:
                return
            released, chunks = self.tools.push(text) if self.tools else (text, [])
            chunks = _joined(chunks)  # one entry per call within one message
            if self.one_call:
                chunks = [chunk for chunk in chunks if chunk["index"] in (0, None)]
            if released or chunks:
                yield ChatGenerationChunk(
                    message=AIMessageChunk(content=released, tool_call_chunks=chunks)
                )
            return
        tail, chunks = ("", [])
        if self.held and not is_call(generation.text, self.names):
            tail = generation.text
        elif self.tools is not None:
            tail, chunks = self.tools.finish(generation.text, generation.finish_reason)
            chunks = _joined(chunks)  # one entry per call within one message
            if self.one_call:
                chunks = [chunk for chunk in chunks if chunk["index"] in (0, None)]
        if tail:
            yield ChatGenerationChunk(message=AIMessageChunk(content=tail))
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                tool_call_chunks=chunks,
                usage_metadata=usage(generation) if self.stream_usage else None,
                response_metadata=response_metadata(generation, self.model),
                chunk_position="last",
            )
        )


def _joined(chunks: list[ToolCallChunk]) -> list[ToolCallChunk]:
    """Chunks of the same call (same ``index``) as one chunk, as LangChain would sum them."""
    by_index: dict[int | None, ToolCallChunk] = {}
    for chunk in chunks:
        seen = by_index.get(chunk["index"])
        if seen is None:
            by_index[chunk["index"]] = ToolCallChunk(**chunk)
            continue
        seen["name"] = seen["name"] or chunk["name"]
        seen["id"] = seen["id"] or chunk["id"]
        seen["args"] = (seen["args"] or "") + (chunk["args"] or "")
    return list(by_index.values())


def result_from_chunks(chunks: list[ChatGenerationChunk]) -> ChatResult:
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    message = cast(AIMessageChunk, merged.message)
    return ChatResult(
        generations=[
            ChatGeneration(
                message=AIMessage(
                    content=message.content,
                    tool_calls=message.tool_calls,
                    invalid_tool_calls=message.invalid_tool_calls,
                    usage_metadata=message.usage_metadata,
                    response_metadata=message.response_metadata,
                )
            )
        ]
    )


def with_system_text(messages: Sequence[BaseMessage], text: str) -> list[BaseMessage]:
    """``messages`` with ``text`` appended to the system turn (one is added if none)."""
    if messages and isinstance(messages[0], SystemMessage) and isinstance(messages[0].content, str):
        first = messages[0].content
        return [SystemMessage(f"{first}\n\n{text}" if first else text), *messages[1:]]
    return [SystemMessage(text), *messages]
