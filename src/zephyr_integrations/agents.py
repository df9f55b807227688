"""LangGraph agents on ChatZephyr.

:func:`create_tool_agent` is LangGraph's prebuilt ReAct agent with one twist for small models:
its first model call is a forced (grammar-constrained) tool call, and once a tool has answered
the model replies in text. The round trip (call, tool result, answer) then completes even with
a model too weak to decide to call a tool, and cannot loop. Real Zephyr weights can use
``create_react_agent(llm, tools)`` directly.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import BaseTool

from zephyr_integrations.chat_model import ChatZephyr


def create_tool_agent(
    llm: ChatZephyr, tools: Sequence[BaseTool], *, prompt: str | None = None
) -> Any:
    """A compiled LangGraph ReAct agent whose first step calls one of ``tools``."""
    from langgraph.prebuilt import create_react_agent

    calling = llm.bind_tools(tools, tool_choice="any")
    answering = llm.bind_tools(tools, tool_choice="none")

    def model(state: Any, runtime: Any) -> Any:
        messages = state["messages"] if isinstance(state, dict) else state.messages
        after_tool = any(isinstance(m, ToolMessage) for m in messages)
        called = any(isinstance(m, AIMessage) and m.tool_calls for m in messages)
        return answering if after_tool or called else calling

    with warnings.catch_warnings():
        # LangGraph 1.x points to langchain's create_agent; this works without langchain.
        warnings.filterwarnings("ignore", message="create_react_agent has been moved")
        return create_react_agent(model, list(tools), prompt=prompt)


__all__ = ["create_tool_agent"]
