from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests are reproducible by default: the same examples on every run and machine, so CI
# passes or fails on the code, not on chance. `HYPOTHESIS_PROFILE=fuzz` (or pytest's
# `--hypothesis-profile=fuzz`) runs a long randomized search instead (see README, "Tests").
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile(
    "fuzz",
    max_examples=20_000,
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

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
