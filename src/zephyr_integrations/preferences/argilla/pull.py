"""Reading a dataset's records and every annotator's response, straight from the API.

Responses are read from `GET /api/v1/datasets/{id}/records?include=responses` rather than the
SDK, because the SDK drops the `rank` of ranking answers and so loses ties (argilla#5712): here a
ranking is a tuple of `(response slot, rank)` pairs exactly as the annotator gave it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zephyr_integrations.preferences.argilla import templates as t
from zephyr_integrations.preferences.argilla.client import argilla_errors
from zephyr_integrations.preferences.records import ChatTurn

if TYPE_CHECKING:
    import argilla as rg

PAGE = 500
STATUSES = ("submitted", "draft", "discarded")


@dataclass(frozen=True)
class AnnotatorResponse:
    """One annotator's answer to one record."""

    record_id: str  # the record's deterministic id (external id)
    user_id: str
    username: str
    status: str  # submitted | draft | discarded
    values: dict[str, Any]  # question name -> value; a ranking is ((slot, rank), ...)


@dataclass(frozen=True)
class PulledRecord:
    record_id: str
    prompt_id: str
    messages: list[ChatTurn]
    responses: list[str]  # the answers in slot order (as shown)
    models: list[str]  # the hidden mapping: the model of each slot
    positions: list[int]  # each slot's position in the logged input
    answers: list[AnnotatorResponse] = field(default_factory=list)


@dataclass(frozen=True)
class PulledDataset:
    name: str
    kind: str  # pairwise | ranking | rating
    aspects: tuple[str, ...]  # rating questions' aspects (empty for the others)
    records: list[PulledRecord]


def pull_dataset(client: rg.Argilla, name: str, workspace: str | None = None) -> PulledDataset:
    url = client.api_url
    with argilla_errors(url, f"dataset {name!r}"):
        dataset = _find(client, name, workspace)
        questions = {str(q.id): q.name for q in dataset.settings.questions}
        kind, aspects = _kind(list(questions.values()), url, name)
        usernames = _usernames(client)
        records = [
            _record(item, questions, usernames)
            for item in _pages(client, f"/api/v1/datasets/{dataset.id}/records")
        ]
    return PulledDataset(name=name, kind=kind, aspects=aspects, records=records)


def _find(client: rg.Argilla, name: str, workspace: str | None) -> rg.Dataset:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = client.datasets(name=name, workspace=workspace)
    if found is None:
        where = f" in workspace {workspace!r}" if workspace else ""
        raise LookupError(f"Argilla at {client.api_url}: no dataset {name!r}{where}")
    return found


def _kind(names: list[str], url: str, dataset: str) -> tuple[str, tuple[str, ...]]:
    if t.RANKING in names:
        return "ranking", ()
    if t.PREFERENCE in names:
        return "pairwise", ()
    aspects = tuple(
        dict.fromkeys(n.rsplit("_", 1)[0] for n in names if n.rsplit("_", 1)[-1].isdigit())
    )
    if not aspects:
        raise ValueError(
            f"Argilla at {url}: dataset {dataset!r} was not made from a preference template"
        )
    return "rating", aspects


def _usernames(client: rg.Argilla) -> dict[str, str]:
    response = client.http_client.get("/api/v1/users")
    if response.status_code == 403:  # not an owner: ids stand for names
        return {}
    response.raise_for_status()
    return {u["id"]: u["username"] for u in response.json()["items"]}


def _pages(client: rg.Argilla, path: str) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        response = client.http_client.get(
            path, params={"include": ["responses"], "offset": offset, "limit": PAGE}
        )
        response.raise_for_status()
        items = response.json()["items"]
        yield from items
        if len(items) < PAGE:
            return
        offset += PAGE


def _record(
    item: dict[str, Any], questions: dict[str, str], usernames: dict[str, str]
) -> PulledRecord:
    fields, metadata = item["fields"], item.get("metadata") or {}
    rid = item.get("external_id") or item["id"]
    slots = sorted(int(k.rsplit("_", 1)[1]) for k in fields if k.startswith("response_"))
    answers = [
        AnnotatorResponse(
            record_id=rid,
            user_id=r["user_id"],
            username=usernames.get(r["user_id"], r["user_id"]),
            status=r["status"],
            values={
                name: _value(entry["value"]) for name, entry in (r.get("values") or {}).items()
            },
        )
        for r in item.get("responses") or []
    ]
    return PulledRecord(
        record_id=rid,
        prompt_id=str(metadata.get(t.PROMPT_ID, "")),
        messages=[ChatTurn(role=m["role"], content=m["content"]) for m in fields[t.CONVERSATION]],
        responses=[fields[t.response_field(s)] for s in slots],
        models=[str(metadata.get(t.model_key(s), "")) for s in slots],
        positions=[int(metadata.get(t.position_key(s), s - 1)) for s in slots],
        answers=answers,
    )


def _value(value: Any) -> Any:
    if isinstance(value, list) and value and isinstance(value[0], dict) and "rank" in value[0]:
        return tuple((v["value"], v["rank"]) for v in value)
    return value
