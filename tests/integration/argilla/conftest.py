from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.argilla import stack_fixture
from zephyr_integrations.argilla_stack import Connection, LocalStack


@pytest.fixture(scope="session")
def argilla_stack() -> Iterator[tuple[LocalStack, Connection]]:
    yield stack_fixture.acquire()
    stack_fixture.release()


@pytest.fixture(scope="session")
def owner(argilla_stack: tuple[LocalStack, Connection]) -> Any:
    from zephyr_integrations.preferences.argilla.client import connect

    _, connection = argilla_stack
    return connect(connection.api_url, connection.api_key)
