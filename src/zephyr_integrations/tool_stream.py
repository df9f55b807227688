"""Streaming tool calls: reply text in, plain text and ``tool_call_chunks`` out.

Each call gets an ``index``. Its first chunk carries the name and id as soon as the name has
been written; its arguments follow when the call is complete. Summed, the chunks give the same
``tool_calls`` as ``invoke`` reads from the whole reply (ids aside, which are drawn per call).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from langchain_core.messages import ToolCallChunk

from zephyr_integrations.backends.stops import StopStreamer
from zephyr_integrations.tools import (
    TOOL_CALL_CLOSE,
    TOOL_CALL_OPEN,
    _name_in,
    new_call_id,
    parse_forced_call,
    parse_tool_calls,
)

_ARGUMENTS = re.compile(r'"arguments"\s*:\s*')


class ToolCallStream:
    """Splits a streamed reply into text and tool-call chunks.

    ``forced``: the whole reply is one call as bare JSON (constrained decoding); otherwise calls
    are ``<tool_call>`` blocks and the text before the first block streams as content.
    """

    def __init__(self, names: Sequence[str], forced: bool) -> None:
        self.names = list(names)
        self.forced = forced
        self.content = StopStreamer((TOOL_CALL_OPEN,))
        self.text = ""  # the reply so far
        self.calls = ""  # the reply from the first block on
        self.started: list[str] = []  # ids of calls whose name chunk was sent
        self.finished = 0

    def push(self, text: str) -> tuple[str, list[ToolCallChunk]]:
        """Feed streamed text: the content to release now and the chunks now known."""
        self.text += text
        if self.forced:
            return "", self._name_chunks([self.text])
        released = self.content.push(text) if self.content.matched is None else ""
        if self.content.matched is None:
            return released, []
        self.calls = self.text[self.text.find(TOOL_CALL_OPEN) :]
        return released, self._block_chunks(final=False)

    def finish(self, full_text: str, finish_reason: str) -> tuple[str, list[ToolCallChunk]]:
        """The reply ended: release held-back text and the remaining chunks."""
        if self.forced:
            chunks = self._name_chunks([full_text])
            calls, invalid = parse_forced_call(full_text, self.names, finish_reason)
            if calls:
                return "", [*chunks, self._args_chunk(0, json.dumps(calls[0]["args"]))]
            return "", [*chunks, self._args_chunk(0, _raw_arguments(invalid[0]["args"]))]
        tail = self.content.flush()
        if self.content.matched is None:
            return tail, []
        start = full_text.find(TOOL_CALL_OPEN)
        self.calls = full_text[start:] if start != -1 else self.calls
        return tail, self._block_chunks(final=True)

    # -- internals ----------------------------------------------------------------------------

    def _name_chunks(self, bodies: Sequence[str]) -> list[ToolCallChunk]:
        chunks = []
        for index, body in enumerate(bodies):
            if index < len(self.started):
                continue
            name = _name_in(body)
            if name is None:
                break
            self.started.append(new_call_id())
            chunks.append(ToolCallChunk(name=name, args="", id=self.started[-1], index=index))
        return chunks

    def _args_chunk(self, index: int, args: str) -> ToolCallChunk:
        return ToolCallChunk(name=None, args=args, id=None, index=index)

    def _block_chunks(self, final: bool) -> list[ToolCallChunk]:
        blocks = self.calls.split(TOOL_CALL_OPEN)[1:]
        bodies = [block.split(TOOL_CALL_CLOSE)[0].strip() for block in blocks]
        chunks = self._name_chunks(bodies)
        complete = len(bodies) if final else sum(TOOL_CALL_CLOSE in b for b in blocks)
        for index in range(self.finished, complete):
            _, calls, invalid = parse_tool_calls(f"{TOOL_CALL_OPEN}{bodies[index]}", self.names)
            if index >= len(self.started):  # no name was readable: a nameless chunk
                self.started.append(new_call_id())
                chunks.append(ToolCallChunk(name=None, args="", id=self.started[-1], index=index))
            args = json.dumps(calls[0]["args"]) if calls else _raw_arguments(invalid[0]["args"])
            chunks.append(self._args_chunk(index, args))
        self.finished = max(self.finished, complete)
        return chunks


def _raw_arguments(raw: str | None) -> str:
    """The arguments part of a call that did not parse (what follows ``"arguments":``)."""
    raw = raw or ""
    found = _ARGUMENTS.search(raw)
    return raw[found.end() :].removesuffix("}") if found else raw
