"""Registers the Text Generation Inference backend as ``tgi``."""

from __future__ import annotations

from typing import Any

from zephyr_integrations.backends.base import Backend
from zephyr_integrations.backends.declaration import BackendDeclaration
from zephyr_integrations.backends.remote_options import TGIOptions
from zephyr_integrations.hookspecs import RegisterBackend, hookimpl


def tgi_backend(
    model: str | None = None,
    *,
    base_url: str | None = None,
    api_key: Any = None,
    timeout: float | None = None,
    max_retries: int = 2,
    **options: Any,
) -> Backend:
    """Build a TGIBackend (aiohttp is imported only when one is asked for)."""
    if base_url is None:
        raise ValueError("backend 'tgi' needs base_url, e.g. base_url='http://127.0.0.1:8080'")
    try:
        from zephyr_integrations.backends.tgi import TGIBackend
    except ImportError as exc:
        raise ImportError(
            "backend 'tgi' needs aiohttp: pip install 'zephyr-integrations[tgi]'"
        ) from exc
    # ChatZephyr's default model names zephyr-7b-beta; the server's /info names what it serves.
    return TGIBackend(
        None if model in (None, "HuggingFaceH4/zephyr-7b-beta") else model,
        base_url=base_url,
        api_key=api_key,
        timeout=timeout if timeout is not None else 120.0,
        max_retries=max_retries,
        **options,
    )


@hookimpl
def register_backends(register: RegisterBackend) -> None:
    summary = "a Text Generation Inference server (or zephyr serve), native routes"
    register("tgi", BackendDeclaration(tgi_backend, TGIOptions, "base_url", summary))
