"""Registers the built-in judges."""

from __future__ import annotations

from typing import Any

from zephyr_integrations.hookspecs import RegisterJudge, hookimpl
from zephyr_integrations.preferences.judging import Judge


@hookimpl
def register_judges(register: RegisterJudge) -> None:
    """The built-in judges (filled in as they land)."""


def reward_model(model: Any, **options: Any) -> Judge:
    """A sequence-classification reward model (a Hub id or a folder) scores every answer."""
    from zephyr_integrations.preferences.judges.reward_model import reward_model_judge

    return reward_model_judge(model, **options)


@hookimpl(specname="register_judges")
def register_reward_model_judge(register: RegisterJudge) -> None:
    register("reward-model", reward_model)
