"""Logging candidates to an Argilla dataset built from a template.

`push_candidates` validates every row and builds every record before the first request (a bad
row logs nothing), creates the dataset if it is missing, refuses a same-named dataset with other
settings (nothing overwritten), then upserts records by their deterministic id in batches, with a
progress bar. A push cut short (server killed) is completed by pushing again: records already
there are updated in place, none are duplicated.

Example::

    client = connect("http://127.0.0.1:6900", api_key)
    push_candidates(client, rows, dataset="uf-ranking", template=RankingTemplate(responses=4))
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zephyr_integrations.preferences.argilla.client import ArgillaUnavailableError, argilla_errors
from zephyr_integrations.preferences.argilla.layout import build_payload, group_candidates
from zephyr_integrations.preferences.argilla.templates import _Template, settings_signature
from zephyr_integrations.preferences.records import CandidateRow

if TYPE_CHECKING:
    import argilla as rg

#: The server's cap on one bulk upsert.
MAX_BATCH = 500


class DatasetConflictError(ValueError):
    """A dataset with this name exists with other settings: it is left untouched."""


@dataclass(frozen=True)
class PushResult:
    dataset: str
    workspace: str
    records: int  # records sent
    created: int
    updated: int  # already present (same id): updated in place


def push_candidates(
    client: rg.Argilla,
    rows: Iterable[CandidateRow],
    *,
    dataset: str,
    template: _Template,
    workspace: str | None = None,
    create_workspace: bool = False,
    batch_size: int = 256,
    progress: bool = True,
) -> PushResult:
    """Log ``rows`` to ``dataset`` in ``workspace`` (the user's first when None). An unknown
    workspace is refused, so a typo never makes a new one; ``create_workspace=True`` makes it."""
    payloads = [build_payload(template, group) for group in group_candidates(rows)]
    target = ensure_dataset(client, dataset, template, workspace, create_workspace=create_workspace)
    return log_payloads(client, target, payloads, batch_size=batch_size, progress=progress)


def ensure_dataset(
    client: rg.Argilla,
    name: str,
    template: _Template,
    workspace: str | None = None,
    *,
    create_workspace: bool = False,
) -> rg.Dataset:
    """The dataset `name` in `workspace`: created from the template, or the existing one when
    its settings match; `DatasetConflictError` otherwise."""
    import argilla as rg

    url = client.api_url
    with argilla_errors(url, f"dataset {name!r}"):
        ws = _workspace(client, workspace, create=create_workspace)
        wanted = template.settings(client)
        with warnings.catch_warnings():  # the SDK warns when a dataset is not found
            warnings.simplefilter("ignore")
            existing = client.datasets(name=name, workspace=ws)
        if existing is not None:
            have = settings_signature(existing.settings)
            want = settings_signature(wanted)
            if have != want:
                parts = ", ".join(k for k in want if want[k] != have.get(k))
                raise DatasetConflictError(
                    f"Argilla at {url}: dataset {name!r} in workspace {ws.name!r} already exists "
                    f"with other settings ({parts} differ); left untouched: pick another name"
                )
            return existing
        return rg.Dataset(name=name, workspace=ws, settings=wanted, client=client).create()


def log_payloads(
    client: rg.Argilla,
    dataset: rg.Dataset,
    payloads: list[dict[str, Any]],
    *,
    batch_size: int = 256,
    progress: bool = True,
) -> PushResult:
    """Upsert prepared payloads (see `layout.build_payload`) in batches of at most 500."""
    from rich.progress import Progress

    if not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be 1-{MAX_BATCH}, got {batch_size}")
    question_ids = {q.name: str(q.id) for q in dataset.settings.questions}
    items = [_resolve(p, question_ids) for p in payloads]
    url = f"/api/v1/datasets/{dataset.id}/records/bulk"
    before = record_count(client, dataset)
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"logging to {dataset.name}", total=len(items))
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            try:
                with argilla_errors(client.api_url, f"dataset {dataset.name!r}"):
                    response = client.http_client.put(url, json={"items": batch})
                    response.raise_for_status()
            except ArgillaUnavailableError as exc:
                raise ArgillaUnavailableError(
                    f"{exc}; {start} of {len(items)} records were logged: push again to complete "
                    "(record ids are deterministic, nothing is duplicated)"
                ) from None
            bar.advance(task, len(batch))
    # The bulk answer omits `updated_item_ids`: count what was created from the totals.
    created = record_count(client, dataset) - before
    workspace = dataset.workspace.name or ""
    return PushResult(
        dataset=dataset.name or "",
        workspace=workspace,
        records=len(items),
        created=created,
        updated=len(items) - created,
    )


def record_count(client: rg.Argilla, dataset: rg.Dataset) -> int:
    """How many records the dataset holds (from the database, not the search engine)."""
    with argilla_errors(client.api_url, f"dataset {dataset.name!r}"):
        response = client.http_client.get(
            f"/api/v1/datasets/{dataset.id}/records", params={"limit": 1, "include": []}
        )
        response.raise_for_status()
    return int(response.json()["total"])


def _resolve(payload: dict[str, Any], question_ids: dict[str, str]) -> dict[str, Any]:
    suggestions = [
        {"question_id": question_ids[s["question_name"]], "value": s["value"], "agent": s["agent"]}
        for s in payload["suggestions"]
    ]
    return {**payload, "suggestions": suggestions}


class UnknownWorkspaceError(LookupError):
    """The workspace does not exist (and was not asked to be created)."""


def _workspace(client: rg.Argilla, name: str | None, *, create: bool = False) -> rg.Workspace:
    import argilla as rg

    if name is None:
        mine = list(client.workspaces)
        if not mine:
            raise ValueError(f"Argilla at {client.api_url}: this user has no workspace; pass one")
        return mine[0]
    with warnings.catch_warnings():  # the SDK warns when a workspace is not found
        warnings.simplefilter("ignore")
        found = client.workspaces(name)
    if found is None:
        known = ", ".join(sorted(str(w.name) for w in client.workspaces)) or "none"
        if not create:
            raise UnknownWorkspaceError(
                f"Argilla at {client.api_url}: no workspace {name!r} (yours: {known}); "
                "pass --create-workspace to make it"
            )
        if client.me.role != "owner":
            raise UnknownWorkspaceError(
                f"Argilla at {client.api_url}: no workspace {name!r}, and only an owner can "
                f"create one (yours: {known})"
            )
        found = rg.Workspace(name=name, client=client).create()
    return found
