"""Backends: engines that turn a rendered prompt into text, knowing nothing of LangChain."""

from zephyr_integrations.backends.base import (
    Backend,
    FinishReason,
    Generation,
    GenerationParams,
    GenerationRequest,
    InvalidParameterError,
    TextDelta,
)

__all__ = [
    "Backend",
    "FinishReason",
    "Generation",
    "GenerationParams",
    "GenerationRequest",
    "InvalidParameterError",
    "TextDelta",
]
