"""An SDK client that never connects: building `rg.Settings` only binds objects to a client."""

from __future__ import annotations

from typing import Any


def offline_client() -> Any:
    import argilla as rg

    class OfflineArgilla(rg.Argilla):
        def _validate_connection(self) -> None:  # the one call the constructor makes
            return None

    return OfflineArgilla(api_url="http://127.0.0.1:9", api_key="unit-test-key")
