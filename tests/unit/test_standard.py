"""LangChain's standard unit tests (run with sockets disabled, like partner packages)."""

from __future__ import annotations

from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests

from zephyr_integrations import ChatZephyr


class TestChatZephyrUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatZephyr]:
        return ChatZephyr

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "HuggingFaceH4/zephyr-7b-beta"}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        # LangChain's defaults minus api_key: ChatZephyr has no key on the Transformers backend.
        return {"temperature": 0, "max_tokens": 100, "timeout": 60, "stop": [], "max_retries": 2}

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        return False
