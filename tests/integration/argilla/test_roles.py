"""An annotator of one workspace cannot see another workspace's datasets (through the API)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.argilla.candidates import candidates
from zephyr_integrations.preferences.argilla.client import ArgillaAuthError, connect
from zephyr_integrations.preferences.argilla.push import push_candidates
from zephyr_integrations.preferences.argilla.roles import create_annotator
from zephyr_integrations.preferences.argilla.templates import RankingTemplate


def test_annotator_sees_only_its_workspace(owner: Any) -> None:
    template = RankingTemplate(responses=2)
    push_candidates(
        owner,
        candidates(1, 2, tag="red "),
        dataset="red-data",
        template=template,
        workspace="team-red",
        create_workspace=True,
    )
    push_candidates(
        owner,
        candidates(1, 2, tag="blue "),
        dataset="blue-data",
        template=template,
        workspace="team-blue",
        create_workspace=True,
    )
    red = create_annotator(owner, "red-annotator", "team-red")
    as_red = connect(owner.api_url, red.api_key)
    assert as_red.me.role == "annotator"

    visible = as_red.http_client.get("/api/v1/me/datasets").json()["items"]
    assert [d["name"] for d in visible] == ["red-data"]
    assert [w.name for w in as_red.workspaces] == ["team-red"]

    blue = owner.datasets("blue-data", workspace="team-blue")
    assert as_red.http_client.get(f"/api/v1/datasets/{blue.id}").status_code == 403
    assert as_red.http_client.get(f"/api/v1/datasets/{blue.id}/records").status_code == 403
    # and it cannot manage users
    with pytest.raises(ArgillaAuthError):
        create_annotator(as_red, "sneaky", "team-red")
