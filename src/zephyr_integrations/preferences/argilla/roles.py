"""Workspaces and annotators: an annotator sees the datasets of its own workspaces only."""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import SecretStr

from zephyr_integrations.preferences.argilla.client import argilla_errors

if TYPE_CHECKING:
    import argilla as rg


@dataclass(frozen=True)
class Annotator:
    username: str
    password: SecretStr
    api_key: SecretStr
    workspace: str


def ensure_workspace(client: rg.Argilla, name: str) -> rg.Workspace:
    import argilla as rg

    with argilla_errors(client.api_url, f"workspace {name!r}"):
        with warnings.catch_warnings():  # the SDK warns when a workspace is not found
            warnings.simplefilter("ignore")
            found = client.workspaces(name)
        return found or rg.Workspace(name=name, client=client).create()


def create_annotator(
    client: rg.Argilla, username: str, workspace: str, password: str | None = None
) -> Annotator:
    """Create an annotator (random password unless given) in `workspace` (created if missing)."""
    import argilla as rg

    secret = password or secrets.token_urlsafe(12)
    ws = ensure_workspace(client, workspace)
    with argilla_errors(client.api_url, f"user {username!r}"):
        user = rg.User(
            username=username, first_name=username, password=secret, role="annotator", client=client
        ).create()
        user.add_to_workspace(ws)
        response = client.http_client.get(f"/api/v1/users/{user.id}")  # owners see the key
        response.raise_for_status()
        key = response.json()["api_key"]
    return Annotator(
        username=username,
        password=SecretStr(secret),
        api_key=SecretStr(str(key)),
        workspace=workspace,
    )
