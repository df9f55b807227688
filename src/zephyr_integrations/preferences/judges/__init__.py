"""The built-in judges (see :mod:`zephyr_integrations.preferences.judging` for the contract)."""

from __future__ import annotations

from zephyr_integrations.preferences.judges.comparative import ComparativeJudge
from zephyr_integrations.preferences.judges.reward_model import RewardModelJudge
from zephyr_integrations.preferences.judges.ultrafeedback import UltraFeedbackJudge

__all__ = ["ComparativeJudge", "RewardModelJudge", "UltraFeedbackJudge"]
