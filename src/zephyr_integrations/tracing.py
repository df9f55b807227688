"""Which backend, server and model answer a ChatZephyr call: for LangChain's cache key and for
LangSmith's tracing parameters.

Two servers never share cache entries, and traces name the model the server actually serves
(TGI's ``/info`` ``model_id``), not the ``model`` field's default.
"""

from __future__ import annotations

import json
from typing import Any, cast

from langchain_core.language_models import LangSmithParams

from zephyr_integrations.chat_output import MODEL_PROVIDER


class TracedChat:
    """Mixed into ChatZephyr, before ``BaseChatModel``."""

    backend: Any
    model: str
    _backend: Any
    _params: Any

    def _served(self, *, ask: bool = True) -> dict[str, str | None]:
        """Which backend, server and model answer: the served model as the backend reports
        it (TGI's ``/info`` ``model_id``), not the ``model`` field's default. With
        ``ask=False`` a remote backend is not asked (None until a call has read it)."""
        backend = self.backend if isinstance(self.backend, str) else type(self.backend).__name__
        base_url = getattr(self._backend, "base_url", None)
        peek = getattr(type(self._backend), "known_model_name", None)
        served = self._backend.known_model_name if peek and not ask else self._backend.model_name
        return {
            "backend": backend,
            "base_url": base_url if isinstance(base_url, str) else None,
            "served_model": served,
        }

    def _get_llm_string(self, stop: list[str] | None = None, **kwargs: Any) -> str:
        """The cache key: LangChain's, plus the backend, server URL and served model, so that
        two servers never share cache entries."""
        served = json.dumps(self._served(), sort_keys=True)
        parent: Any = super()
        return f"{parent._get_llm_string(stop=stop, **kwargs)}---{served}"

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = self._params(stop=stop, **{k: v for k, v in kwargs.items() if k != "model"})
        try:  # called on every call, in its event loop: never waits on the server
            served = self._served(ask=False)
        except Exception:  # tracing must not fail a call: the call itself reports the fault
            served = {"backend": str(self.backend), "base_url": None, "served_model": self.model}
        ls_params = LangSmithParams(
            ls_provider=MODEL_PROVIDER,
            ls_model_name=kwargs.get("model") or served["served_model"] or self.model,
            ls_model_type="chat",
        )
        extra = cast(dict[str, Any], ls_params)
        extra["ls_backend"] = served["backend"]
        if served["base_url"] is not None:
            extra["ls_base_url"] = served["base_url"]
        if params.temperature is not None:
            ls_params["ls_temperature"] = params.temperature
        if params.max_new_tokens is not None:
            ls_params["ls_max_tokens"] = params.max_new_tokens
        if params.stop:
            ls_params["ls_stop"] = list(params.stop)
        return ls_params
