"""LangChain's standard unit tests (run with sockets disabled, like partner packages)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.unit_tests import ChatModelUnitTests
from syrupy.assertion import SnapshotAssertion

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

    @pytest.mark.xfail(
        reason="load(allowed_objects='all') admits only the classes in langchain-core's own "
        "mapping, which no third-party package can join; the dumpd snapshot above it matches, "
        "and the round trip with allowed_objects=[ChatZephyr] is "
        "tests/unit/test_langchain_fit.py::test_dumpd_load_round_trip_keeps_secrets_out",
        raises=ValueError,
        strict=True,
    )
    def test_serdes(self, model: BaseChatModel, snapshot: SnapshotAssertion) -> None:
        super().test_serdes(model, snapshot)
