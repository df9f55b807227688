"""Stream ChatZephyr's answer token by token, sync and async, with usage on the last chunk.

Runs offline on the local model (Zephyr when its weights are cached, else SmolLM2).

    python examples/streaming.py "Explain DPO to a five-year-old."
"""

from __future__ import annotations

import asyncio
import sys

from langchain_core.messages import AIMessageChunk

from zephyr_integrations import ChatZephyr
from zephyr_integrations.local_models import default_model

DEFAULT_QUESTION = "Name three colours of the rainbow."


def stream(llm: ChatZephyr, question: str) -> AIMessageChunk:
    total: AIMessageChunk | None = None
    for chunk in llm.stream(question):
        sys.stdout.write(str(chunk.content))
        sys.stdout.flush()
        total = chunk if total is None else total + chunk
    sys.stdout.write("\n")
    assert total is not None
    return total


async def astream(llm: ChatZephyr, question: str) -> str:
    pieces = [str(chunk.content) async for chunk in llm.astream(question)]
    return "".join(pieces)


def main(question: str) -> AIMessageChunk:
    llm = ChatZephyr(model=default_model(), temperature=0, max_tokens=64)
    total = stream(llm, question)
    print(f"usage: {total.usage_metadata}", file=sys.stderr)
    print(f"finish_reason: {total.response_metadata.get('finish_reason')}", file=sys.stderr)
    again = asyncio.run(astream(llm, question))
    print(f"async stream gave the same text: {again == total.content}", file=sys.stderr)
    return total


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or DEFAULT_QUESTION)
