"""A stack killed mid-push and restarted: pushing again completes with no duplicates and nothing
lost; UI sessions survive the restart (persisted ARGILLA_AUTH_SECRET_KEY)."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import httpx
import pytest

from tests.integration.argilla.candidates import candidates
from zephyr_integrations.argilla_stack import Connection, LocalStack
from zephyr_integrations.preferences.argilla.client import ArgillaUnavailableError, connect
from zephyr_integrations.preferences.argilla.push import push_candidates, record_count
from zephyr_integrations.preferences.argilla.templates import RankingTemplate


def test_killed_mid_push_then_restarted_push_completes(
    argilla_stack: tuple[LocalStack, Connection], owner: Any
) -> None:
    stack, connection = argilla_stack
    assert connection.password is not None
    token = httpx.post(
        f"{connection.api_url}/api/v1/token",
        data={"username": connection.username, "password": connection.password.get_secret_value()},
    ).json()["access_token"]

    rows = candidates(1500, 2, tag="kill ")
    template = RankingTemplate(responses=2)
    push_candidates(owner, rows[:20], dataset="kill", template=template, progress=False)
    server = next(p for p in stack.status().processes if p.name == "argilla-server")
    killer = threading.Timer(1.0, os.kill, (server.pid, signal.SIGKILL))
    killer.start()
    with pytest.raises(ArgillaUnavailableError, match=r"push again to complete"):
        push_candidates(
            owner, rows, dataset="kill", template=template, batch_size=20, progress=False
        )
    killer.join()
    assert not stack.status().running

    stack.up()  # a partly dead stack is stopped and started afresh
    client = connect(connection.api_url, connection.api_key)
    result = push_candidates(client, rows, dataset="kill", template=template, progress=False)
    dataset = client.datasets("kill", workspace=result.workspace)
    assert record_count(client, dataset) == 1500
    ids = [r.id for r in dataset.records]  # through the search engine, after the restart
    assert len(ids) == len(set(ids)) == 1500
    assert result.created + result.updated == 1500 and result.updated >= 20

    me = httpx.get(f"{connection.api_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == connection.username
