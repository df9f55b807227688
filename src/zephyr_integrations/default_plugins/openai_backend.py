"""Registers OpenAI-compatible servers (vLLM, SGLang, llama.cpp) as ``openai``."""

from __future__ import annotations

from typing import Any

from zephyr_integrations.backends.base import Backend
from zephyr_integrations.backends.declaration import BackendDeclaration
from zephyr_integrations.backends.remote_options import OpenAIOptions
from zephyr_integrations.hookspecs import RegisterBackend, hookimpl


def openai_backend(
    model: str | None = None,
    *,
    base_url: str | None = None,
    api_key: Any = None,
    timeout: float | None = None,
    max_retries: int = 2,
    **options: Any,
) -> Backend:
    """Build an OpenAICompletionsBackend: the Zephyr prompt to ``/v1/completions``."""
    if base_url is None:
        raise ValueError("backend 'openai' needs base_url, e.g. base_url='http://127.0.0.1:8000'")
    try:
        from zephyr_integrations.backends.openai_completions import OpenAICompletionsBackend
    except ImportError as exc:
        raise ImportError(
            "backend 'openai' needs aiohttp: pip install 'zephyr-integrations[tgi]'"
        ) from exc
    # ChatZephyr's default model names zephyr-7b-beta; /v1/models names what is served.
    return OpenAICompletionsBackend(
        None if model in (None, "HuggingFaceH4/zephyr-7b-beta") else model,
        base_url=base_url,
        api_key=api_key,
        timeout=timeout if timeout is not None else 120.0,
        max_retries=max_retries,
        **options,
    )


@hookimpl
def register_backends(register: RegisterBackend) -> None:
    summary = "an OpenAI-compatible server (vLLM, SGLang, llama.cpp, TGI's /v1), /v1/completions"
    register("openai", BackendDeclaration(openai_backend, OpenAIOptions, "base_url", summary))
