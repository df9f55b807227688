"""Names kept for existing ``except`` clauses: every TGI failure is a project error."""

from __future__ import annotations

from zephyr_integrations.errors import (
    ZephyrConnectionError,
    ZephyrError,
    ZephyrValidationError,
)

TGIError = ZephyrError
"""Any failure talking to TGI (`zephyr_integrations.errors` has the kinds)."""
TGIConnectionError = ZephyrConnectionError


class PromptTooLongError(ZephyrValidationError):
    """The prompt has more tokens than the server accepts."""
