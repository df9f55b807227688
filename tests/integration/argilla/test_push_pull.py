"""The round trip on the real local stack: push (idempotent, suggestions), annotate through the
API as several annotators, pull and aggregate (ties kept, models restored)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.argilla.candidates import candidates
from tests.integration.argilla.stack_fixture import free_port
from zephyr_integrations.argilla_stack import Connection, LocalStack
from zephyr_integrations.preferences.argilla.aggregate import aggregate
from zephyr_integrations.preferences.argilla.client import (
    ArgillaAuthError,
    ArgillaUnavailableError,
    connect,
)
from zephyr_integrations.preferences.argilla.layout import RecordError
from zephyr_integrations.preferences.argilla.pull import pull_dataset
from zephyr_integrations.preferences.argilla.push import (
    DatasetConflictError,
    push_candidates,
    record_count,
)
from zephyr_integrations.preferences.argilla.roles import create_annotator
from zephyr_integrations.preferences.argilla.templates import (
    PairwiseTemplate,
    RankingTemplate,
    RatingTemplate,
)


def _respond(client: Any, record_id: str, values: dict[str, Any], status: str) -> None:
    body = {"values": {k: {"value": v} for k, v in values.items()}, "status": status}
    response = client.http_client.post(f"/api/v1/records/{record_id}/responses", json=body)
    assert response.status_code == 201, response.text


def _server_records(owner: Any, name: str, workspace: str) -> list[dict[str, Any]]:
    dataset = owner.datasets(name, workspace=workspace)
    return owner.http_client.get(
        f"/api/v1/datasets/{dataset.id}/records", params={"limit": 500, "include": ["suggestions"]}
    ).json()["items"]


def test_push_twice_creates_no_duplicates_and_attaches_judge_suggestions(owner: Any) -> None:
    rows = candidates(6, 3, judged=True, tag="dup ")
    template = RankingTemplate(responses=3)
    first = push_candidates(owner, rows, dataset="dup", template=template, batch_size=4)
    second = push_candidates(owner, rows, dataset="dup", template=template, batch_size=4)
    assert (first.created, first.updated) == (6, 0)
    assert (second.created, second.updated) == (0, 6)
    items = _server_records(owner, "dup", first.workspace)
    assert len(items) == 6
    assert len({i["external_id"] for i in items}) == 6
    for item in items:
        (suggestion,) = item["suggestions"]
        assert suggestion["agent"] == "judge-tiny"
        # model-m got helpfulness 1+m: the suggested ranking puts model-2's slot first
        best_slot = suggestion["value"][0]["value"]
        assert item["metadata"][f"model_{best_slot.split('_')[1]}"] == "model-2"


def test_score_only_rows_become_ranking_and_rating_suggestions(owner: Any) -> None:
    rows = candidates(3, 3, tag="rm ")
    scale = {"low": None, "high": None, "meaning": "reward logits of rm-tiny"}
    for row in rows:  # a reward model's verdicts: a score and its scale, no ratings
        row["score"] = {"model-0": -2.5, "model-1": 6.0, "model-2": 0.5}[row["model"]]
        row["judge"], row["scale"] = "rm-tiny", scale  # type: ignore[typeddict-item]
    ranking = push_candidates(owner, rows, dataset="rm-rank", template=RankingTemplate(responses=3))
    rating = push_candidates(owner, rows, dataset="rm-rate", template=RatingTemplate(responses=3))
    for item in _server_records(owner, "rm-rank", ranking.workspace):
        (suggestion,) = item["suggestions"]
        assert suggestion["agent"] == "rm-tiny"
        order = [item["metadata"][f"model_{v['value'].split('_')[1]}"] for v in suggestion["value"]]
        assert order == ["model-1", "model-2", "model-0"]
    for item in _server_records(owner, "rm-rate", rating.workspace):
        suggested = {s["question_id"]: s["value"] for s in item["suggestions"]}
        assert sorted(suggested.values()) == [1, 2, 5]  # -2.5, 0.5, 6.0 placed on 1-5
        assert {s["agent"] for s in item["suggestions"]} == {"rm-tiny"}


def test_round_trip_with_ties_drafts_and_two_annotators(owner: Any) -> None:
    rows = candidates(3, 3, tag="rt ")
    template = RankingTemplate(responses=3, min_submitted=2)
    pushed = push_candidates(
        owner, rows, dataset="rt", template=template, workspace="ws-rt", create_workspace=True
    )
    assert pushed.records == 3
    alice = create_annotator(owner, "rt-alice", "ws-rt")
    bob = create_annotator(owner, "rt-bob", "ws-rt")
    as_alice = connect(owner.api_url, alice.api_key)
    as_bob = connect(owner.api_url, bob.api_key)
    dataset = owner.datasets("rt", workspace="ws-rt")
    records = owner.http_client.get(f"/api/v1/datasets/{dataset.id}/records").json()["items"]
    by_model: dict[str, dict[str, str]] = {}
    for item in records:
        meta = item["metadata"]
        by_model[item["id"]] = {meta[f"model_{i}"]: f"response_{i}" for i in (1, 2, 3)}
    first, second, third = (item["id"] for item in records)
    slots = by_model[first]
    # Alice ties model-0 and model-1 at rank 1; Bob ranks model-0 > model-1 > model-2.
    _respond(
        as_alice,
        first,
        {
            "ranking": [
                {"value": slots["model-0"], "rank": 1},
                {"value": slots["model-1"], "rank": 1},
                {"value": slots["model-2"], "rank": 2},
            ]
        },
        "submitted",
    )
    _respond(
        as_bob,
        first,
        {
            "ranking": [
                {"value": slots["model-0"], "rank": 1},
                {"value": slots["model-1"], "rank": 2},
                {"value": slots["model-2"], "rank": 3},
            ]
        },
        "submitted",
    )
    s2 = by_model[second]
    _respond(
        as_alice,
        second,
        {"ranking": [{"value": s2[f"model-{m}"], "rank": m + 1} for m in range(3)]},
        "draft",
    )
    _respond(as_bob, third, {}, "discarded")

    pulled = pull_dataset(owner, "rt", workspace="ws-rt")
    assert pulled.kind == "ranking"
    statuses = sorted((a.username, a.status) for r in pulled.records for a in r.answers)
    assert statuses == [
        ("rt-alice", "draft"),
        ("rt-alice", "submitted"),
        ("rt-bob", "discarded"),
        ("rt-bob", "submitted"),
    ]
    tie = next(
        a
        for r in pulled.records
        for a in r.answers
        if a.username == "rt-alice" and a.status == "submitted"
    )
    assert sorted(rank for _, rank in tie.values["ranking"]) == [1, 1, 2]  # the tie survived

    report = aggregate(pulled)
    assert report.records == 3
    assert report.records_without_submissions == 2
    assert report.per_annotator["rt-alice"] == {"submitted": 1, "draft": 1, "discarded": 0}
    assert report.per_annotator["rt-bob"] == {"submitted": 1, "draft": 0, "discarded": 1}
    (row,) = report.rows
    assert row["source"] == "human"
    scores = {c["model"]: c["score"] for c in row["completions"]}
    # Borda, averaged: model-0 (1.5 + 2) / 2, model-1 (1.5 + 1) / 2, model-2 (0 + 0) / 2
    assert scores == {"model-0": 1.75, "model-1": 1.25, "model-2": 0.0}
    # Original order and text restored from the hidden mapping.
    originals = [r for r in rows if r["prompt_id"] == row["prompt_id"]]
    assert [c["model"] for c in row["completions"]] == [r["model"] for r in originals]
    assert [c["response"] for c in row["completions"]] == [r["response"] for r in originals]
    assert row["agreement"] is not None and -1.0 <= row["agreement"] <= 1.0


def test_rating_and_pairwise_aggregate_mean_and_majority(owner: Any) -> None:
    rows = candidates(1, 2, tag="pw ")
    push_candidates(
        owner,
        rows,
        dataset="pw",
        template=PairwiseTemplate(),
        workspace="ws-pw",
        create_workspace=True,
    )
    push_candidates(
        owner,
        rows,
        dataset="rate",
        template=RatingTemplate(responses=2),
        workspace="ws-pw",
        create_workspace=True,
    )
    voters = [
        connect(owner.api_url, create_annotator(owner, f"pw-{i}", "ws-pw").api_key)
        for i in range(3)
    ]
    pw = owner.datasets("pw", workspace="ws-pw")
    (item,) = owner.http_client.get(f"/api/v1/datasets/{pw.id}/records").json()["items"]
    slot0 = "response_1" if item["metadata"]["model_1"] == "model-0" else "response_2"
    slot1 = "response_2" if slot0 == "response_1" else "response_1"
    for voter, label in zip(voters, [slot0, slot0, "tie"], strict=True):
        _respond(voter, item["id"], {"preference": label}, "submitted")
    rate = owner.datasets("rate", workspace="ws-pw")
    (ritem,) = owner.http_client.get(f"/api/v1/datasets/{rate.id}/records").json()["items"]
    model_of = {f"overall_{i}": ritem["metadata"][f"model_{i}"] for i in (1, 2)}
    for voter, (a, b) in zip(voters, [(5, 1), (4, 2), (3, 3)], strict=True):
        values = {q: (a if m == "model-0" else b) for q, m in model_of.items()}
        _respond(voter, ritem["id"], values, "submitted")

    (prow,) = aggregate(pull_dataset(owner, "pw", "ws-pw")).rows
    assert {c["model"]: c["score"] for c in prow["completions"]} == {"model-0": 1.0, "model-1": 0.0}
    assert slot1 != slot0
    rated = aggregate(pull_dataset(owner, "rate", "ws-pw"))
    (rrow,) = rated.rows
    assert {c["model"]: c["score"] for c in rrow["completions"]} == {"model-0": 4.0, "model-1": 2.0}
    assert rated.alpha is not None


def test_conflicting_settings_and_bad_rows_change_nothing(owner: Any) -> None:
    rows = candidates(2, 3, tag="conf ")
    pushed = push_candidates(owner, rows, dataset="conf", template=RankingTemplate(responses=3))
    with pytest.raises(
        DatasetConflictError, match=r"dataset 'conf' in workspace .* other settings"
    ):
        push_candidates(owner, rows, dataset="conf", template=RatingTemplate(responses=3))
    dataset = owner.datasets("conf", workspace=pushed.workspace)
    assert [q.name for q in dataset.settings.questions] == ["ranking"]
    more = candidates(4, 3, tag="conf ")
    del more[-1]["response"]  # type: ignore[misc]
    with pytest.raises(RecordError, match=r"candidate row 11 .*missing field 'response'"):
        push_candidates(owner, more, dataset="conf", template=RankingTemplate(responses=3))
    assert record_count(owner, dataset) == 2  # nothing half-logged
    with pytest.raises(RecordError, match=r"2 responses, but the ranking template shows 3"):
        push_candidates(
            owner,
            candidates(1, 2, tag="fresh "),
            dataset="fresh",
            template=RankingTemplate(responses=3),
        )
    assert owner.datasets("fresh") is None


def test_wrong_key_and_unreachable_server_name_the_url(
    argilla_stack: tuple[LocalStack, Connection],
) -> None:
    _, connection = argilla_stack
    with pytest.raises(
        ArgillaAuthError, match=rf"{connection.api_url} rejected the API key"
    ) as info:
        connect(connection.api_url, "zephyr.wrong-key")
    assert "wrong-key" not in str(info.value)
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ArgillaUnavailableError, match=rf"cannot reach Argilla at {dead}"):
        connect(dead, "any-key")
