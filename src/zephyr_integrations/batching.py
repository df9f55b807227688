"""Local batching for ChatZephyr: a whole ``batch()`` in one backend call.

An engine that batches locally (``batches_locally = True``) gets every input of
``ChatZephyr.batch``/``abatch`` in one call, so they start together in its running batch; the
generations then wait here, keyed by (prompt, params), for LangChain's usual per-input runs
(callbacks, tracing, parsing). A backend with ``generate_each`` reports errors per input, so a
bad input fails alone. With ``max_concurrency`` in the config, LangChain's own batching runs
(at most that many calls in flight, each joining the engine's batch as a slot frees).
"""

from __future__ import annotations

import contextvars
from collections import deque
from collections.abc import Sequence
from typing import Any

from langchain_core.globals import get_llm_cache
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig

from zephyr_integrations.backends.base import Generation, GenerationParams, GenerationRequest

# Generations computed by one batched call, waiting for the per-input runs of batch()/abatch().
Prefilled = dict[tuple[str, GenerationParams], deque[Generation | BaseException]]
_PREFILLED: contextvars.ContextVar[Prefilled | None] = contextvars.ContextVar(
    "zephyr_prefilled", default=None
)


class LocalBatching:
    """``batch``/``abatch`` through one backend call (mixed into ChatZephyr, before
    ``BaseChatModel``)."""

    _backend: Any
    cache: Any
    _convert_input: Any
    _request: Any

    # -- batching ---------------------------------------------------------------------------

    def batch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        """Run every input through one batched backend call, then LangChain's usual plumbing."""
        requests = self._batch_requests(inputs, config, kwargs)
        each = getattr(self._backend, "generate_each", None)
        try:
            outcomes: Sequence[Generation | BaseException] = (
                each(requests) if each else self._backend.generate(requests)
            )
        except Exception as exc:  # every input of the batch reports the failure
            outcomes = [exc] * len(requests)
        token = _PREFILLED.set(self._prefill(requests, outcomes))
        try:
            return super().batch(  # type: ignore[misc]
                inputs, config, return_exceptions=return_exceptions, **kwargs
            )
        finally:
            _PREFILLED.reset(token)

    async def abatch(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[AIMessage]:
        requests = self._batch_requests(inputs, config, kwargs)
        each = getattr(self._backend, "agenerate_each", None)
        try:
            outcomes: Sequence[Generation | BaseException] = await (
                each(requests) if each else self._backend.agenerate(requests)
            )
        except Exception as exc:
            outcomes = [exc] * len(requests)
        token = _PREFILLED.set(self._prefill(requests, outcomes))
        try:
            return await super().abatch(  # type: ignore[misc]
                inputs, config, return_exceptions=return_exceptions, **kwargs
            )
        finally:
            _PREFILLED.reset(token)

    def _batch_requests(
        self,
        inputs: list[LanguageModelInput],
        config: RunnableConfig | list[RunnableConfig] | None,
        kwargs: dict[str, Any],
    ) -> list[GenerationRequest]:
        """Requests for the inputs that can run together; the rest take the one-by-one path
        (where a bad input raises its own clear error) ."""
        if not getattr(self._backend, "batches_locally", False):
            return []  # a server batches by itself: LangChain's concurrent batch is right
        configs = config if isinstance(config, list) else [config or {}]
        if any(c.get("max_concurrency") is not None for c in configs):
            return []  # LangChain keeps at most that many calls in flight
        if self.cache or (self.cache is None and get_llm_cache()) or len(inputs) < 2:
            return []
        requests = []
        for model_input in inputs:
            try:
                messages = self._convert_input(model_input).to_messages()
                requests.append(self._request(messages, kwargs.get("stop"), **_no_stop(kwargs)))
            except (ValueError, TypeError):
                continue
        return requests

    @staticmethod
    def _prefill(
        requests: list[GenerationRequest], outcomes: Sequence[Generation | BaseException]
    ) -> Prefilled:
        prefilled: Prefilled = {}
        for request, outcome in zip(requests, outcomes, strict=True):
            prefilled.setdefault((request.prompt, request.params), deque()).append(outcome)
        return prefilled


def take_prefilled(request: GenerationRequest) -> Generation | None:
    prefilled = _PREFILLED.get()
    if not prefilled:
        return None
    waiting = prefilled.get((request.prompt, request.params))
    if not waiting:
        return None
    outcome = waiting.popleft()
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _no_stop(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in kwargs.items() if key != "stop"}
