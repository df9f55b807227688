"""Which OpenAI-compatible server answers: vLLM, SGLang, llama.cpp or TGI's ``/v1``.

Structured output is asked for differently by each (see `openai_completions`), so the kind is
read from what the server says about itself, at no extra cost where possible:

1. the ``Server`` header of its answers (``llama.cpp``);
2. ``/v1/models`` ``owned_by``, which each names itself in (``vllm``, ``sglang``, ``llamacpp``);
3. ``/info`` (TGI's own route: ``model_id`` and token limits, or ``router``);
4. ``/version`` answering ``{"version": ...}`` (vLLM).

Failing all of these, ``vllm`` (the most widespread; an answer that ignored the constraint is
refused anyway). An explicit ``server_kind`` is never second-guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OWNED_BY = {"vllm": "vllm", "sglang": "sglang", "llamacpp": "llamacpp", "llama.cpp": "llamacpp"}
FALLBACK = "vllm"


def kind_from_models(headers: Mapping[str, str], body: Any) -> str | None:
    """The kind a ``/v1/models`` answer (its headers and body) reveals, else ``None``."""
    server = " ".join(str(v) for k, v in headers.items() if k.lower() == "server").lower()
    if "llama.cpp" in server or "llamacpp" in server:
        return "llamacpp"
    data = body.get("data") if isinstance(body, dict) else None
    for model in data or []:
        if isinstance(model, dict):
            kind = OWNED_BY.get(str(model.get("owned_by", "")).lower())
            if kind is not None:
                return kind
    return None


def is_tgi_info(body: Any) -> bool:
    """Whether ``body`` is TGI's ``/info``."""
    if not isinstance(body, dict) or not isinstance(body.get("model_id"), str):
        return False
    limits = ("max_total_tokens", "max_input_tokens", "max_input_length")
    return "text-generation" in str(body.get("router", "")) or any(k in body for k in limits)


def is_vllm_version(body: Any) -> bool:
    """Whether ``body`` is vLLM's ``/version`` (``{"version": "0.x.y"}`` and nothing else)."""
    return isinstance(body, dict) and set(body) == {"version"} and isinstance(body["version"], str)
