"""Preference-data tooling: candidates, AI feedback, Argilla annotation, binarizing, export."""

from zephyr_integrations.preferences.records import (
    ULTRAFEEDBACK_ASPECTS,
    AspectRating,
    CandidateRow,
    ChatTurn,
    Completion,
    PreferenceRow,
    ScoreScale,
    Usage,
    aspect_mean_scale,
    from_candidates,
    mean_rating,
    preference_row,
    prompt_id,
)

__all__ = [
    "ULTRAFEEDBACK_ASPECTS",
    "AspectRating",
    "CandidateRow",
    "ChatTurn",
    "Completion",
    "PreferenceRow",
    "ScoreScale",
    "Usage",
    "aspect_mean_scale",
    "from_candidates",
    "mean_rating",
    "preference_row",
    "prompt_id",
]
