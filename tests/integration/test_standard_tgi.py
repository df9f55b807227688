"""LangChain's standard integration tests: TGI backend against the project's TGI-protocol
server, which serves the tiny offline model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from zephyr_integrations.backends.transformers import TransformersBackend
from zephyr_integrations.testing.tgi_server import TGIServer

from .standard_base import TINY_STRING_LIMIT, ZephyrStandardTests, tiny_path

_SERVER: dict[str, TGIServer] = {}


@pytest.fixture(scope="module", autouse=True)
def _tgi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    import huggingface_hub.constants

    offline = huggingface_hub.constants.HF_HUB_OFFLINE
    huggingface_hub.constants.HF_HUB_OFFLINE = False
    backend = TransformersBackend(str(tiny_path(tmp_path_factory)), dtype="float32")
    with TGIServer(backend, model_id="tiny-zephyr") as server:
        _SERVER["server"] = server
        yield
    _SERVER.clear()
    huggingface_hub.constants.HF_HUB_OFFLINE = offline


class TestChatZephyrTGI(ZephyrStandardTests):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "backend": "tgi",
            "base_url": _SERVER["server"].url,
            "max_string_length": TINY_STRING_LIMIT,
            # The server's default budget is its whole context (4,000 tokens of a random model,
            # minutes on a loaded CPU): more than `timeout`, a deadline for the whole call.
            "max_tokens": 128,
        }
