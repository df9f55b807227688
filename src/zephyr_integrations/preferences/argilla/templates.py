"""Preference dataset templates: frozen value objects that build `rg.Settings`.

Every template shows the conversation as a chat field (all turns, so multi-turn context is
visible) and the answers as `response_1..N`. Which model wrote which answer lives in metadata
hidden from annotators (`model_i`, `position_i`, `prompt_id`), and the order is shuffled per
record (see `layout.py`). Questions:

- `PairwiseTemplate`: `preference` = response_1 / response_2 / tie, optional `rationale`;
- `RankingTemplate`: `ranking` over N responses (1 = best; equal ranks allowed by the server);
- `RatingTemplate`: `<aspect>_<i>` rated 1-5 for every response, aspect `overall` or
  UltraFeedback's four.

Example::

    template = RankingTemplate(n_responses=4, min_submitted=2)
    settings = template.settings(client)          # an rg.Settings
    template.model_dump_json()                    # serialise; equal templates compare equal
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from zephyr_integrations.preferences.argilla.guidelines import load_guidelines
from zephyr_integrations.preferences.records import MAX_RATING, MIN_RATING, ULTRAFEEDBACK_ASPECTS

if TYPE_CHECKING:
    import argilla as rg

CONVERSATION = "conversation"
PROMPT_ID = "prompt_id"
OVERALL = "overall"
PREFERENCE = "preference"
RATIONALE = "rationale"
RANKING = "ranking"
TIE = "tie"


def response_field(slot: int) -> str:
    return f"response_{slot}"


def model_key(slot: int) -> str:
    return f"model_{slot}"


def position_key(slot: int) -> str:
    return f"position_{slot}"


def rating_question(aspect: str, slot: int) -> str:
    return f"{aspect}_{slot}"


class _Template(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    guidelines: str = Field(default_factory=load_guidelines, repr=False, min_length=1)
    min_submitted: int = Field(default=1, ge=1, description="Submissions that complete a record.")
    shuffle_seed: int = Field(default=0, description="Seeds the per-record answer order.")

    @property
    def n_responses(self) -> int:
        raise NotImplementedError

    def question_names(self) -> tuple[str, ...]:
        raise NotImplementedError

    def _questions(self, client: rg.Argilla) -> list[Any]:
        raise NotImplementedError

    def settings(self, client: rg.Argilla) -> rg.Settings:
        """The `rg.Settings` for this template (`client` only binds the SDK objects; no call)."""
        import argilla as rg

        n = self.n_responses
        fields: list[Any] = [
            rg.ChatField(CONVERSATION, title="Conversation", _client=client),
            *[
                rg.TextField(
                    response_field(i), title=f"Response {i}", use_markdown=True, client=client
                )
                for i in range(1, n + 1)
            ],
        ]
        hidden: list[Any] = [
            rg.TermsMetadataProperty(PROMPT_ID, visible_for_annotators=False, client=client)
        ]
        for i in range(1, n + 1):
            hidden.append(
                rg.TermsMetadataProperty(model_key(i), visible_for_annotators=False, client=client)
            )
            hidden.append(
                rg.IntegerMetadataProperty(
                    position_key(i), visible_for_annotators=False, client=client
                )
            )
        return rg.Settings(
            fields=fields,
            questions=self._questions(client),
            metadata=hidden,
            guidelines=self.guidelines,
            allow_extra_metadata=False,
            distribution=rg.TaskDistribution(min_submitted=self.min_submitted),
        )


class PairwiseTemplate(_Template):
    """Two answers: which is better, or a tie; an optional free-text rationale."""

    kind: Literal["pairwise"] = "pairwise"
    rationale: bool = True

    @property
    def n_responses(self) -> int:
        return 2

    def question_names(self) -> tuple[str, ...]:
        return (PREFERENCE, RATIONALE) if self.rationale else (PREFERENCE,)

    def _questions(self, client: rg.Argilla) -> list[Any]:
        import argilla as rg

        labels = {
            "response_1": "Response 1 is better",
            "response_2": "Response 2 is better",
            TIE: "Tie",
        }
        questions: list[Any] = [
            rg.LabelQuestion(
                PREFERENCE, labels=labels, title="Which response is better?", client=client
            )
        ]
        if self.rationale:
            questions.append(
                rg.TextQuestion(RATIONALE, title="Why? (optional)", required=False, client=client)
            )
        return questions


class RankingTemplate(_Template):
    """N answers ranked from 1 (best) to N."""

    kind: Literal["ranking"] = "ranking"
    responses: int = Field(default=4, ge=2, le=20, description="Answers per record.")

    @property
    def n_responses(self) -> int:
        return self.responses

    def question_names(self) -> tuple[str, ...]:
        return (RANKING,)

    def _questions(self, client: rg.Argilla) -> list[Any]:
        import argilla as rg

        values = {response_field(i): f"Response {i}" for i in range(1, self.responses + 1)}
        return [
            rg.RankingQuestion(
                RANKING, values=values, title="Rank the responses (1 = best)", client=client
            )
        ]


class RatingTemplate(_Template):
    """Every answer rated 1-5, overall or on each of UltraFeedback's aspects."""

    kind: Literal["rating"] = "rating"
    responses: int = Field(default=4, ge=1, le=20, description="Answers per record.")
    aspects: tuple[str, ...] = (OVERALL,)

    @field_validator("aspects")
    @classmethod
    def _aspects_named(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(set(value)) != len(value):
            raise ValueError("aspects must be a non-empty list of distinct names")
        for aspect in value:
            if not aspect.isidentifier():
                raise ValueError(f"aspect {aspect!r} must be a plain identifier")
        return value

    @classmethod
    def ultrafeedback(cls, responses: int = 4, **options: Any) -> RatingTemplate:
        return cls(responses=responses, aspects=ULTRAFEEDBACK_ASPECTS, **options)

    @property
    def n_responses(self) -> int:
        return self.responses

    def question_names(self) -> tuple[str, ...]:
        return tuple(
            rating_question(a, i) for i in range(1, self.responses + 1) for a in self.aspects
        )

    def _questions(self, client: rg.Argilla) -> list[Any]:
        import argilla as rg

        values = list(range(MIN_RATING, MAX_RATING + 1))
        return [
            rg.RatingQuestion(
                rating_question(aspect, i),
                values=values,
                title=f"Response {i}: {aspect.replace('_', ' ')} (1-5)",
                client=client,
            )
            for i in range(1, self.responses + 1)
            for aspect in self.aspects
        ]


PreferenceTemplate = Annotated[
    PairwiseTemplate | RankingTemplate | RatingTemplate, Field(discriminator="kind")
]


def settings_signature(settings: rg.Settings) -> dict[str, Any]:
    """What must match for two datasets to hold the same kind of records: field, question and
    metadata names with their types and options (titles and guidelines may differ)."""
    data = settings.serialize()

    def strip(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
        out = []
        for item in items:
            config = {
                k: v
                for k, v in (item.get("settings") or {}).items()
                if k != "visible_for_annotators"
            }
            for option in config.get("options") or []:
                if isinstance(option, dict):
                    option.pop("description", None)
                    option.pop("text", None)
            out.append((item["name"], repr(sorted(config.items()))))
        return sorted(out)

    return {
        "fields": strip(data["fields"]),
        "questions": strip(data["questions"]),
        "metadata": strip(data["metadata"]),
        "distribution": data.get("distribution"),
    }
