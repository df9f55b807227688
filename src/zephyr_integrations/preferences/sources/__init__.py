"""Sources: readers of existing preference data (see :mod:`.base` for the contract).

Built in: ``ultrafeedback`` (openbmb/UltraFeedback's raw rows), ``ultrafeedback_binarized``
(HuggingFaceH4's columns) and ``trl`` (TRL preference datasets); plugins add theirs through the
``register_sources`` hook.
"""

from zephyr_integrations.preferences.sources.base import (
    ImportOptions,
    Reader,
    Source,
    SourceRow,
    SourceRowError,
    Stage,
)
from zephyr_integrations.preferences.sources.pairs import TRL, ULTRAFEEDBACK_BINARIZED
from zephyr_integrations.preferences.sources.ultrafeedback import ULTRAFEEDBACK

#: The built-in sources, by name.
BUILTIN_SOURCES: dict[str, Source] = {
    source.name: source for source in (ULTRAFEEDBACK, ULTRAFEEDBACK_BINARIZED, TRL)
}

__all__ = [
    "BUILTIN_SOURCES",
    "ImportOptions",
    "Reader",
    "Source",
    "SourceRow",
    "SourceRowError",
    "Stage",
]
