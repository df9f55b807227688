"""OpenAI-compatible servers (vLLM, SGLang, llama.cpp, TGI's ``/v1``) through ``/v1/completions``.

The Zephyr prompt is rendered client-side and posted as a raw ``prompt`` (not chat: the
server's chat template is not trusted). ``max_tokens`` is sent as ``max_tokens`` (llama.cpp
ignores ``max_completion_tokens``); streams ask for ``stream_options.include_usage``, so usage is
exact. Structured output uses the server's own mechanism, chosen by ``server_kind``: vLLM's
``structured_outputs`` (its legacy ``guided_json`` is silently ignored by current vLLM),
llama.cpp's ``response_format`` with a ``schema`` (or ``grammar``), TGI's ``response_format``
with a ``value``. Pooling, deadlines, retries and errors are the remote layer's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from pydantic import SecretStr

from zephyr_integrations.backends.base import (
    FinishReason,
    Generation,
    GenerationParams,
    GenerationRequest,
    TextDelta,
    candidate_requests,
)
from zephyr_integrations.backends.openai_structured import (
    ServerKind,
    check_constrained,
    structured_output,
)
from zephyr_integrations.backends.remote import (
    DEFAULT_MAX_CONNECTIONS,
    Deadline,
    RemoteClient,
    Reply,
)
from zephyr_integrations.backends.remote_loops import iterate_sync, run_sync
from zephyr_integrations.backends.remote_options import SERVER_KINDS, OpenAIOptions
from zephyr_integrations.backends.server_kind import (
    FALLBACK,
    is_tgi_info,
    is_vllm_version,
    kind_from_models,
)
from zephyr_integrations.backends.stops import StopStreamer, cut_at_stop
from zephyr_integrations.errors import (
    ZephyrError,
    ZephyrModelNotFoundError,
    ZephyrResponseError,
    ZephyrTimeoutError,
    ZephyrValidationError,
)
from zephyr_integrations.redact import redact_url

logger = logging.getLogger(__name__)
__all__ = [
    "SERVER_KINDS",
    "OpenAICompletionsBackend",
    "ServerKind",
    "check_constrained",
    "structured_output",
]


class OpenAICompletionsBackend:
    """Talks to an OpenAI-compatible server's ``/v1/completions``.

    Args:
        model: the served model's name (``--served-model-name``); by default the first model
            of ``/v1/models``.
        base_url: the server, e.g. ``http://127.0.0.1:8000`` (a trailing ``/v1`` is accepted).
        server_kind: ``vllm``, ``sglang``, ``llamacpp`` or ``tgi``: how structured output is
            asked for; by default detected from the server (`server_kind`).
        api_key, timeout, max_retries, backoff, max_backoff, max_connections: as for TGI (the
            remote layer's options).
    """

    supports_grammar = True

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | Sequence[str],
        server_kind: str | None = None,
        api_key: str | SecretStr | None = None,
        timeout: float = 120.0,
        max_retries: int = 2,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.options = OpenAIOptions(
            base_url=base_url,  # type: ignore[arg-type]  # a list is joined by RemoteOptions
            api_key=SecretStr(api_key) if isinstance(api_key, str) else api_key,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            max_backoff=max_backoff,
            max_connections=max_connections,
            server_kind=server_kind,
        )
        self.server_kind: ServerKind | None = server_kind  # type: ignore[assignment]
        self._model = model
        self._checked: str | None = None
        self._models_seen: Reply | None = None
        self._remote = RemoteClient(self.options)

    def __repr__(self) -> str:
        key = "'**********'" if self.options.api_key else "None"
        return (
            f"OpenAICompletionsBackend(base_url={redact_url(self.options.base_url)!r}, "
            f"server_kind={self.server_kind!r}, api_key={key})"
        )

    @property
    def base_url(self) -> str:
        return self.options.base_url

    @property
    def model_name(self) -> str:
        if self._model is None:
            return run_sync(self._served_model(self._remote.deadline()))
        return self._model

    @property
    def known_model_name(self) -> str | None:
        """The model's name if known without asking the server (named, or ``/v1/models`` read)."""
        return self._model or self._checked

    async def _served_model(self, deadline: Deadline) -> str:
        """The model every replica serves (``/v1/models``): the one named, else their first."""
        if self._checked is not None:
            return self._checked
        replicas = self._remote.replicas
        with _RouteNamed(self._remote.url("/v1/models"), "or an old TGI (use backend='tgi')"):
            replies = await asyncio.gather(
                *(self._remote.request_json("GET", "/v1/models", deadline=deadline, replica=url)
                  for url in replicas),
                return_exceptions=len(replicas) > 1,
            )  # fmt: skip
            if not any(isinstance(r, Reply) for r in replies):
                raise next(r for r in replies if isinstance(r, BaseException))
        served = {
            redact_url(r.url.removesuffix("/v1/models")): _model_ids(r)
            for r in replies
            if isinstance(r, Reply)
        }
        self._models_seen = next(r for r in replies if isinstance(r, Reply))
        wanted = self._model or next(iter(served.values()))[0]
        lacking = [url for url, ids in served.items() if wanted not in ids]
        if lacking:
            listed = ", ".join(f"{url} serves {', '.join(ids)}" for url, ids in served.items())
            if len(lacking) == len(served):
                raise ZephyrModelNotFoundError(
                    f"model {wanted!r} is not served ({listed})", url=redact_url(self.base_url)
                )
            raise ZephyrValidationError(
                f"model {wanted!r} is not served by every server of base_url ({listed})",
                url=redact_url(self.base_url),
            )
        self._model = self._checked = wanted
        return wanted

    async def _server_kind(self, deadline: Deadline) -> ServerKind:
        """The server's kind: ``server_kind`` when given, else detected once (see
        `server_kind`)."""
        if self.server_kind is not None:
            return self.server_kind
        await self._served_model(deadline)
        seen = self._models_seen
        kind = None if seen is None else kind_from_models(seen.headers, seen.body)
        if kind is None:
            kind = await self._probe_kind(deadline)
        self.server_kind = kind  # type: ignore[assignment]
        logger.info("%s is %s (detected)", redact_url(self.base_url), kind)
        return self.server_kind  # type: ignore[return-value]

    async def _probe_kind(self, deadline: Deadline) -> str:
        base = self._remote.replicas[0]
        for path, test, kind in (
            ("/info", is_tgi_info, "tgi"),
            ("/version", is_vllm_version, "vllm"),
        ):
            try:
                reply = await self._remote.request_json(
                    "GET", path, deadline=deadline, replica=base
                )
            except ZephyrTimeoutError:
                raise
            except ZephyrError:  # no such route: another kind of server
                continue
            if test(reply.body):
                return kind
        return FALLBACK

    # -- generation ---------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [run_sync(self._agenerate_one(request)) for request in requests]

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return list(await asyncio.gather(*(self._agenerate_one(r) for r in requests)))

    def stream(self, request: GenerationRequest) -> Iterator[TextDelta]:
        return iterate_sync(self.astream(request))

    async def _agenerate_one(self, request: GenerationRequest) -> Generation:
        deadline = self._remote.deadline(request.params.timeout)
        body = await self._body(request, deadline, stream=False)
        with _RouteNamed(self._remote.url("/v1/completions")):
            reply = await self._remote.request_json(
                "POST", "/v1/completions", body, deadline=deadline
            )
        choices, usage = _read_choices(reply.body, reply.url)
        choice = choices[0]
        return self._generation(
            str(choice["text"]), choice.get("finish_reason"), choice, usage, request.params
        )

    async def agenerate_n(self, request: GenerationRequest, n: int) -> list[Generation]:
        """``n`` sampled completions of ``request`` in one request (OpenAI's ``n``: vLLM and
        SGLang batch them). Per-candidate token counts come from the choices' ``logprobs``;
        a server that answers fewer choices (llama.cpp ignores ``n``) is asked for the rest
        with seeds ``seed + k``. Greedy candidates are asked for one request each."""
        if n == 1 or request.params.greedy:
            return await self.agenerate(candidate_requests(request, range(n)))
        deadline = self._remote.deadline(request.params.timeout)
        body = await self._body(request, deadline, stream=False)
        body |= {"n": n, "logprobs": 0}
        with _RouteNamed(self._remote.url("/v1/completions")):
            reply = await self._remote.request_json(
                "POST", "/v1/completions", body, deadline=deadline
            )
        choices, usage = _read_choices(reply.body, reply.url)
        choices = sorted(choices[:n], key=lambda c: c.get("index", 0))
        total = usage.get("completion_tokens")
        generations = []
        for k, choice in enumerate(choices):
            tokens = (choice.get("logprobs") or {}).get("tokens")
            counted: int | None = None
            if isinstance(tokens, list):
                counted = len(tokens)
            elif isinstance(total, int):  # no per-choice count: the server's total, shared out
                counted = total // len(choices) + (k < total % len(choices))
            share = {"prompt_tokens": usage.get("prompt_tokens"), "completion_tokens": counted}
            reason = choice.get("finish_reason")
            generations.append(
                self._generation(str(choice["text"]), reason, choice, share, request.params)
            )
        if len(generations) < n:
            rest = candidate_requests(request, range(len(generations), n))
            generations += await self.agenerate(rest)
        return generations

    async def astream(self, request: GenerationRequest) -> AsyncIterator[TextDelta]:
        deadline = self._remote.deadline(request.params.timeout)
        body = await self._body(request, deadline, stream=True)
        url = self._remote.url("/v1/completions")
        streamer = StopStreamer(request.params.stop)
        text, reason, last_choice, usage = "", None, {}, None
        tokens = 0
        events = self._remote.stream_events("/v1/completions", body, deadline=deadline)
        try:
            with _RouteNamed(url):
                first = await anext(events, None)
            chunks = [] if first is None else [first]
            async for chunk in _chain(chunks, events):
                if not isinstance(chunk, dict):
                    raise ZephyrResponseError(f"the stream from {url} sent {chunk!r}", url=url)
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or []:
                    piece = str(choice.get("text") or "")
                    tokens += 1 if piece else 0
                    released = streamer.push(piece)
                    text += released
                    if released:
                        yield TextDelta(released)
                    if choice.get("finish_reason") is not None:
                        reason, last_choice = choice["finish_reason"], choice
                if streamer.matched is not None:
                    reason, last_choice = "stop", {"stop_reason": streamer.matched}
                    break
        finally:
            await events.aclose()
        tail = streamer.flush()
        if tail:
            text += tail
            yield TextDelta(tail)
        if reason is None:
            raise ZephyrResponseError(
                f"the stream from {url} ended without a finish_reason", url=url
            )
        usage = usage or {"prompt_tokens": None, "completion_tokens": tokens}
        generation = self._generation(text, reason, last_choice, usage, request.params)
        yield TextDelta(generation=generation)

    def _generation(
        self,
        text: str,
        reason: Any,
        choice: dict[str, Any],
        usage: dict[str, Any],
        params: GenerationParams,
    ) -> Generation:
        cut, matched = cut_at_stop(text, params.stop)
        stop_reason = choice.get("stop_reason")
        if matched is None and isinstance(stop_reason, str) and stop_reason in params.stop:
            matched = stop_reason  # vLLM cut the stop text and names it here
        finish: FinishReason = "length" if reason == "length" else "eos_token"
        if matched is not None:
            finish = "stop_sequence"
        if params.grammar is not None and finish != "length":
            url = self._remote.url("/v1/completions")
            check_constrained(cut, params.grammar, url, self.server_kind)
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        return Generation(
            text=cut,
            finish_reason=finish,
            prompt_tokens=prompt if isinstance(prompt, int) else None,
            completion_tokens=completion if isinstance(completion, int) else 0,
            model=self._model or "",
            stop_sequence=matched,
        )

    # -- requests -----------------------------------------------------------------------------

    async def _body(
        self, request: GenerationRequest, deadline: Deadline, *, stream: bool
    ) -> dict[str, Any]:
        params = request.params
        body: dict[str, Any] = {
            "model": await self._served_model(deadline),
            "prompt": request.prompt,
        }
        if params.max_new_tokens is not None:
            body["max_tokens"] = params.max_new_tokens
        body["temperature"] = 0.0 if params.greedy else params.temperature
        if not params.greedy:
            if params.top_p is not None:
                body["top_p"] = params.top_p
            if params.top_k is not None:
                body["top_k"] = params.top_k
        if params.repetition_penalty is not None:
            body["repetition_penalty"] = params.repetition_penalty
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        if params.grammar is not None:
            body.update(structured_output(await self._server_kind(deadline), params))
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    async def aclose(self) -> None:
        await self._remote.aclose()

    def close(self) -> None:
        """Nothing to release: sync calls share the remote layer's own connections."""


class _RouteNamed:
    """A 404 that is not about the model: the server has no such route (``/v1/completions``,
    ``/v1/models``), named with what it means."""

    def __init__(self, url: str, hint: str = "or serves chat only") -> None:
        self.url = url
        self.hint = hint

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if (
            isinstance(exc, ZephyrModelNotFoundError)
            and exc.status == 404
            and "model" not in str(exc.server_message or "")
        ):
            url = exc.url or self.url
            raise ZephyrModelNotFoundError(
                f"{url} does not exist (HTTP 404): the server is not OpenAI-compatible, "
                f"{self.hint}",
                url=url,
                status=404,
            ) from exc


async def _chain(first: list[Any], rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    for item in first:
        yield item
    async for item in rest:
        yield item


def _model_ids(reply: Reply) -> list[str]:
    data = reply.body.get("data") if isinstance(reply.body, dict) else None
    ids = [str(m.get("id")) for m in data or [] if isinstance(m, dict)]
    if not ids:
        raise ZephyrModelNotFoundError(f"{reply.url} lists no model", url=reply.url)
    return ids


def _read_choices(body: Any, url: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices:
        raise ZephyrResponseError(
            f"the answer from {url} is not a completion: field 'choices' is missing", url=url
        )
    for index, choice in enumerate(choices):
        if not isinstance(choice, dict) or not isinstance(choice.get("text"), str):
            raise ZephyrResponseError(
                f"the answer from {url} is not a completion: field 'choices[{index}].text' is "
                "missing",
                url=url,
            )
    usage = body.get("usage")
    return choices, usage if isinstance(usage, dict) else {}
