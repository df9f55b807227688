"""Zephyr-family models in LangChain, and tooling for DPO preference data."""

from zephyr_integrations.chat_model import ZEPHYR_7B_BETA, ChatZephyr
from zephyr_integrations.errors import (
    ZephyrAuthenticationError,
    ZephyrConnectionError,
    ZephyrError,
    ZephyrGenerationError,
    ZephyrModelNotFoundError,
    ZephyrOverloadedError,
    ZephyrResponseError,
    ZephyrTimeoutError,
    ZephyrValidationError,
)
from zephyr_integrations.template import format_messages, official_chat_template

__version__ = "0.1.0"

__all__ = [
    "ZEPHYR_7B_BETA",
    "ChatZephyr",
    "ZephyrAuthenticationError",
    "ZephyrConnectionError",
    "ZephyrError",
    "ZephyrGenerationError",
    "ZephyrModelNotFoundError",
    "ZephyrOverloadedError",
    "ZephyrResponseError",
    "ZephyrTimeoutError",
    "ZephyrValidationError",
    "__version__",
    "format_messages",
    "official_chat_template",
]
