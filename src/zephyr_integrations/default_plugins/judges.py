"""Registers the built-in judges: ``ultrafeedback``, ``ultrafeedback-comparative`` and
``reward-model``.

Each factory is called as ``factory(model, **options)``: ``model`` a LangChain chat model or a
``KIND:TARGET[,key=value...]`` spec; options ``label`` (both) and ``seed`` (comparative). The
reward model's ``model`` is a Hub id or a folder (options: see ``RewardModelJudge``). The
judge modules are imported when a judge is built, not when the plugins load.
"""

from __future__ import annotations

from typing import Any

from zephyr_integrations.hookspecs import RegisterJudge, hookimpl
from zephyr_integrations.preferences.judging import Judge


def ultrafeedback(model: Any, **options: Any) -> Judge:
    """One answer per call, rated on UltraFeedback's four aspects (H4's and Argilla's rerun)."""
    from zephyr_integrations.preferences.judges.ultrafeedback import UltraFeedbackJudge

    return UltraFeedbackJudge(model, **options)


def ultrafeedback_comparative(model: Any, **options: Any) -> Judge:
    """Every answer of a prompt in one call per aspect, shuffled (UltraFeedback's own way)."""
    from zephyr_integrations.preferences.judges.comparative import ComparativeJudge

    return ComparativeJudge(model, **options)


def reward_model(model: Any, **options: Any) -> Judge:
    """A sequence-classification reward model (a Hub id or a folder) scores every answer."""
    from zephyr_integrations.preferences.judges.reward_model import reward_model_judge

    return reward_model_judge(model, **options)


@hookimpl
def register_judges(register: RegisterJudge) -> None:
    register("ultrafeedback", ultrafeedback)
    register("ultrafeedback-comparative", ultrafeedback_comparative)
    register("reward-model", reward_model)
