from __future__ import annotations

import json
from pathlib import Path

import pytest

SHARED_TEMPLATE = Path(__file__).resolve().parents[2] / "shared" / "zephyr" / "chat_template.json"


@pytest.fixture(scope="session")
def shared_template() -> Path:
    return SHARED_TEMPLATE


@pytest.fixture(scope="session")
def official_template() -> str:
    """The official template: from ../shared when present, else the packaged byte-for-byte copy
    (whose equality with ../shared is itself tested)."""
    if SHARED_TEMPLATE.is_file():
        return str(json.loads(SHARED_TEMPLATE.read_text(encoding="utf-8")))
    from zephyr_integrations import official_chat_template

    return official_chat_template()


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zephyr_integrations.testing import make_tiny_zephyr

    return make_tiny_zephyr(tmp_path_factory.mktemp("tiny-zephyr"))
