"""The standard tests that need a model that reasons, on real Zephyr weights.

Skipped unless ``ZEPHYR_REAL_MODEL`` names the weights (a Hub id in the local cache or a model
folder); ``scripts/run_real_weights_tests.py`` sets it and selects these tests. On the tiny model
the same tests are xfailed in :mod:`.standard_base`.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel

from .standard_base import ZephyrStandardTests

REAL_MODEL = os.environ.get("ZEPHYR_REAL_MODEL")
pytestmark = pytest.mark.skipif(not REAL_MODEL, reason="set ZEPHYR_REAL_MODEL to real weights")
REAL_TESTS = (
    "test_tool_calling",
    "test_tool_calling_async",
    "test_unicode_tool_call_integration",
    "test_agent_loop",
)


class TestChatZephyrRealWeights(ZephyrStandardTests):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        kwargs = {"dtype": os.environ.get("ZEPHYR_REAL_DTYPE", "auto")}
        return {"model": REAL_MODEL, "backend_kwargs": kwargs, "max_tokens": 256}

    def test_tool_calling(self, model: BaseChatModel) -> None:
        super(ZephyrStandardTests, self).test_tool_calling(model)

    async def test_tool_calling_async(self, model: BaseChatModel) -> None:
        await super(ZephyrStandardTests, self).test_tool_calling_async(model)

    def test_unicode_tool_call_integration(self, model: BaseChatModel, *args: Any) -> None:
        super(ZephyrStandardTests, self).test_unicode_tool_call_integration(model, *args)

    def test_agent_loop(self, model: BaseChatModel) -> None:
        super(ZephyrStandardTests, self).test_agent_loop(model)
