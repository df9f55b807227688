"""Dataset templates: value objects (print, compare, serialise) that build rg.Settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from tests.unit.argilla_offline import offline_client
from zephyr_integrations.preferences.argilla.guidelines import load_guidelines
from zephyr_integrations.preferences.argilla.templates import (
    PairwiseTemplate,
    PreferenceTemplate,
    RankingTemplate,
    RatingTemplate,
    settings_signature,
)
from zephyr_integrations.preferences.records import ULTRAFEEDBACK_ASPECTS

GUIDELINES = Path(__file__).resolve().parents[2] / "annotation" / "guidelines.md"


def test_templates_compare_print_and_round_trip_through_json() -> None:
    a = RankingTemplate(responses=4, min_submitted=2)
    assert a == RankingTemplate(responses=4, min_submitted=2)
    assert a != RankingTemplate(responses=3, min_submitted=2)
    assert "responses=4" in repr(a) and "guidelines" not in repr(a)
    adapter: TypeAdapter[PreferenceTemplate] = TypeAdapter(PreferenceTemplate)
    for template in (a, PairwiseTemplate(rationale=False), RatingTemplate.ultrafeedback(3)):
        assert adapter.validate_json(template.model_dump_json()) == template
    with pytest.raises(ValidationError):
        a.min_submitted = 3  # type: ignore[misc]  # frozen


def test_guidelines_come_from_annotation_guidelines_md() -> None:
    assert RankingTemplate().guidelines == GUIDELINES.read_text(encoding="utf-8").strip()
    assert load_guidelines(GUIDELINES).startswith("# Annotation guidelines")


def test_ranking_settings_chat_field_hidden_mapping_and_overlap() -> None:
    settings = RankingTemplate(responses=3, min_submitted=2).settings(offline_client())
    data = settings.serialize()
    fields = {f["name"]: f["settings"]["type"] for f in data["fields"]}
    assert fields == {
        "conversation": "chat",
        "response_1": "text",
        "response_2": "text",
        "response_3": "text",
    }
    (question,) = data["questions"]
    assert question["name"] == "ranking"
    assert [o["value"] for o in question["settings"]["options"]] == [
        "response_1",
        "response_2",
        "response_3",
    ]
    metadata = {m["name"]: m["visible_for_annotators"] for m in data["metadata"]}
    assert set(metadata) == {
        "prompt_id",
        "model_1",
        "model_2",
        "model_3",
        "position_1",
        "position_2",
        "position_3",
    }
    assert not any(metadata.values())  # the model mapping is hidden from annotators
    assert data["distribution"] == {"strategy": "overlap", "min_submitted": 2}
    assert data["guidelines"] == RankingTemplate().guidelines


def test_pairwise_and_rating_questions() -> None:
    client = offline_client()
    pairwise = PairwiseTemplate().settings(client).serialize()["questions"]
    assert [q["name"] for q in pairwise] == ["preference", "rationale"]
    assert [o["value"] for o in pairwise[0]["settings"]["options"]] == [
        "response_1",
        "response_2",
        "tie",
    ]
    assert pairwise[1]["required"] is False
    uf = RatingTemplate.ultrafeedback(2).settings(client).serialize()["questions"]
    assert [q["name"] for q in uf] == [f"{a}_{i}" for i in (1, 2) for a in ULTRAFEEDBACK_ASPECTS]
    assert [o["value"] for o in uf[0]["settings"]["options"]] == [1, 2, 3, 4, 5]
    overall = RatingTemplate(responses=2).question_names()
    assert overall == ("overall_1", "overall_2")


def test_signature_tells_different_settings_apart() -> None:
    client = offline_client()
    base = settings_signature(RankingTemplate(responses=3).settings(client))
    assert base == settings_signature(RankingTemplate(responses=3, shuffle_seed=7).settings(client))
    assert base != settings_signature(RankingTemplate(responses=4).settings(client))
    assert base != settings_signature(
        RankingTemplate(responses=3, min_submitted=2).settings(client)
    )
    assert base != settings_signature(RatingTemplate(responses=3).settings(client))


def test_bad_template_values_name_the_field() -> None:
    with pytest.raises(ValidationError, match="min_submitted"):
        RankingTemplate(min_submitted=0)
    with pytest.raises(ValidationError, match="aspects"):
        RatingTemplate(aspects=("help fulness",))
    with pytest.raises(ValidationError, match="responses"):
        RankingTemplate(responses=1)
