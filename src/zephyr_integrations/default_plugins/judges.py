"""Registers the built-in judges: ``ultrafeedback`` and ``ultrafeedback-comparative``.

Each factory is called as ``factory(model, **options)``: ``model`` a LangChain chat model or a
``KIND:TARGET[,key=value...]`` spec; options ``label`` (both) and ``seed`` (comparative). The
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


@hookimpl
def register_judges(register: RegisterJudge) -> None:
    register("ultrafeedback", ultrafeedback)
    register("ultrafeedback-comparative", ultrafeedback_comparative)
