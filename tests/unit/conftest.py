"""Unit tests run with sockets disabled (as LangChain partner packages do): nothing here may touch
the network, not even loopback. Unix socket pairs stay allowed: asyncio's loop needs one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_socket


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    pytest_socket.disable_socket(allow_unix_socket=True)
    yield
    pytest_socket.enable_socket()
