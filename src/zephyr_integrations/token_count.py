"""Token counts with the backend's own tokenizer, as the backend counts ``input_tokens``.

A conversation is counted as the prompt ChatZephyr sends: rendered in the Zephyr format (with
the tool instructions when tools are given), BOS included. No GPT-2 fallback and no download:
the local model's tokenizer, or TGI's ``/tokenize``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from zephyr_integrations.backends.base import Backend
from zephyr_integrations.chat_output import with_system_text
from zephyr_integrations.template import format_messages
from zephyr_integrations.tools import ToolSpec, tool_instructions


def token_ids(backend: Backend, text: str) -> list[int]:
    """The ids of ``text`` read as a prompt (BOS included)."""
    tokenize = getattr(backend, "tokenize", None)
    if tokenize is None:
        raise NotImplementedError(
            f"{type(backend).__name__} cannot count tokens (it has no tokenize method)"
        )
    return [int(token[0]) for token in tokenize(text)]


def prompt_tokens(
    backend: Backend, messages: Sequence[BaseMessage], tools: Sequence[Any] | None = None
) -> int:
    """The tokens of the prompt ChatZephyr sends for ``messages`` (and ``tools``)."""
    if not messages:
        return 0
    if tools:
        specs = [ToolSpec.from_openai(convert_to_openai_tool(tool)) for tool in tools]
        messages = with_system_text(messages, tool_instructions(specs, None))
    return len(token_ids(backend, format_messages(messages)))
