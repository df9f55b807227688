"""One local Argilla stack per test session, shared by tests/integration/argilla and tests/e2e.

Each folder's conftest imports the session fixtures below, so each folder holds the stack once;
it starts on the first acquire and stops (by its recorded PIDs) when the last holder releases it
at session end.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zephyr_integrations.argilla_stack import Connection, LocalStack, StackConfig

_state: dict[str, object] = {"holders": 0}

#: Secrets in the environment of whoever starts the stack: they must reach no child process
#: (tests/integration/argilla/test_secrets.py scans for them).
PLANTED = {
    "HF_TOKEN": "hf_planted_token_0123456789",
    "OPENAI_API_KEY": "sk-planted-openai-0123456789",
    "ZEPHYR_PLANTED_SECRET": "planted-secret-0123456789",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def acquire() -> tuple[LocalStack, Connection]:
    if _state["holders"] == 0:
        data = Path(tempfile.mkdtemp(prefix="zephyr-argilla-test-"))
        config = StackConfig(
            data_dir=data, server_port=free_port(), search_port=free_port(), redis_port=free_port()
        )
        stack = LocalStack(config)
        _state["stack"] = stack
        saved = {key: os.environ.get(key) for key in PLANTED}
        os.environ.update(PLANTED)
        try:
            _state["connection"] = stack.up()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    _state["holders"] = int(_state["holders"]) + 1  # type: ignore[call-overload]
    return _state["stack"], _state["connection"]  # type: ignore[return-value]


def release() -> None:
    _state["holders"] = int(_state["holders"]) - 1  # type: ignore[call-overload]
    if _state["holders"] == 0:
        stack = _state.pop("stack")
        assert isinstance(stack, LocalStack)
        stack.down()
        shutil.rmtree(stack.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def argilla_stack() -> Iterator[tuple[LocalStack, Connection]]:
    yield acquire()
    release()


@pytest.fixture(scope="session")
def owner(argilla_stack: tuple[LocalStack, Connection]) -> Any:
    """An SDK client signed in as the stack's owner."""
    from zephyr_integrations.preferences.argilla.client import connect

    _, connection = argilla_stack
    return connect(connection.api_url, connection.api_key)
