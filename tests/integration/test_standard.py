"""LangChain's standard integration tests: Transformers backend, tiny offline model."""

from __future__ import annotations

from typing import Any

import pytest

from .standard_base import _TINY, TINY_STRING_LIMIT, ZephyrStandardTests, tiny_path


class TestChatZephyrTransformers(ZephyrStandardTests):
    @pytest.fixture(autouse=True)
    def _tiny(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        tiny_path(tmp_path_factory)

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "model": str(_TINY["path"]),
            "backend_kwargs": {"dtype": "float32"},
            "max_string_length": TINY_STRING_LIMIT,
        }
