"""The Text Generation Inference backend, on huggingface_hub's (Async)InferenceClient.

The prompt is rendered client-side (the exact Zephyr format) and sent to TGI's native
``text_generation`` route with ``details=True``, so token counts and finish reasons are exact.
Parameters are shaped the way TGI validates them; transient faults (429, 503, refused
connections) are retried with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from huggingface_hub import AsyncInferenceClient, InferenceClient
from huggingface_hub.errors import (
    HfHubHTTPError,
    InferenceTimeoutError,
    TextGenerationError,
)
from pydantic import SecretStr

from zephyr_integrations.backends.base import (
    FinishReason,
    Generation,
    GenerationParams,
    GenerationRequest,
    TextDelta,
    TokenLimits,
)
from zephyr_integrations.backends.stops import cut_at_stop
from zephyr_integrations.backends.tgi_errors import (
    PromptTooLongError,
    TGIConnectionError,
    TGIError,
    retryable,
    server_message,
)
from zephyr_integrations.backends.tgi_http import (
    DEFAULT_MAX_CONNECTIONS,
    PROMPT_TOKENS_HEADER,
    SessionInferenceClient,
    capture_headers,
    new_async_session,
)
from zephyr_integrations.backends.tgi_info import TGIInfo, fetch_info
from zephyr_integrations.backends.tgi_stream import StreamState, guard_async, guard_sync
from zephyr_integrations.redact import redact_url

T = TypeVar("T")
TGI_MAX_STOP = 4
_HF_HOSTS = ("huggingface.co", "hf.co", "endpoints.huggingface.cloud", "hf.space")


class TGIBackend:
    """Talks to a TGI server (or anything speaking its protocol, such as ``zephyr serve``).

    Args:
        model: the model's name for metadata; by default the server's ``/info`` ``model_id``.
        base_url: the server, e.g. ``http://127.0.0.1:8080``.
        api_key: sent as a bearer token. Without it no token is sent to a server that is not
            the Hugging Face API, not even one saved by ``huggingface-cli login``.
        timeout: seconds to wait for the server (huggingface_hub waits forever by default).
        max_retries: retries of 429, 503 and refused connections.
        truncate: cut over-long prompts server-side (keeping their end) instead of refusing.
        max_connections: HTTP connections kept to the server for concurrent async calls.
    """

    supports_grammar = True
    """``GenerationParams.grammar`` goes to TGI's ``grammar`` parameter."""

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str,
        api_key: str | SecretStr | None = None,
        timeout: float = 120.0,
        max_retries: int = 2,
        truncate: bool = False,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.base_url = _check_url(base_url)
        self.api_key = SecretStr(api_key) if isinstance(api_key, str) else api_key
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError(f"timeout={timeout!r} is invalid: expected a positive number")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries={max_retries!r} is invalid: expected an integer >= 0")
        if not isinstance(max_connections, int) or max_connections < 1:
            raise ValueError(
                f"max_connections={max_connections!r} is invalid: expected an integer >= 1"
            )
        self.timeout = float(timeout)
        self.max_connections = max_connections
        self.max_retries = max_retries
        self.truncate = truncate
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._model = model
        self._info: TGIInfo | None = None
        self._info_lock = threading.Lock()
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        key = "'**********'" if self.api_key else "None"
        url = redact_url(self.base_url)
        return f"TGIBackend(base_url={url!r}, api_key={key}, timeout={self.timeout})"

    # -- server facts -----------------------------------------------------------------------

    def _headers(self) -> dict[str, str | None]:
        if self.api_key is not None:
            return {"authorization": f"Bearer {self.api_key.get_secret_value()}"}
        host = urlsplit(self.base_url).hostname or ""
        if host.endswith(_HF_HOSTS):
            return {}
        # huggingface_hub would otherwise add the locally saved token; None removes the header.
        return {"authorization": None}

    @property
    def info(self) -> TGIInfo:
        """The server's ``/info``, read once (concurrent first calls wait for one request)."""
        if self._info is None:
            with self._info_lock:
                if self._info is None:
                    self._info = self._call(
                        lambda: fetch_info(self.base_url, self._plain_headers(), self.timeout)
                    )
        return self._info

    def _plain_headers(self) -> dict[str, str]:
        return {k: v for k, v in self._headers().items() if v is not None}

    @property
    def model_name(self) -> str:
        return self._model or self.info.model_id

    def token_limits(self) -> TokenLimits:
        """``max_input_tokens`` and ``max_total_tokens`` from ``/info``."""
        info = self.info
        return TokenLimits(info.max_input_tokens, info.max_total_tokens)

    def tokenize(self, text: str) -> list[tuple[int, str, int, int]]:
        """The server's tokens of ``text`` (``/tokenize``, BOS included). A server without a
        tokenizer answers 404: the served model's tokenizer is then loaded here (from a local
        folder or the Hugging Face cache) and counts the same way."""
        tokens = self._call(lambda: self.info.tokenize(text))
        if tokens is not None:
            return tokens
        from zephyr_integrations.backends.hf_files import load_tokenizer, tokenize

        try:
            tokenizer = load_tokenizer(self.info.model_id)
        except (OSError, ValueError) as exc:
            raise LookupError(
                f"TGI at {self.base_url} has no tokenizer (/tokenize answered 404) and the "
                f"tokenizer of {self.info.model_id!r} could not be loaded here: {exc}"
            ) from exc
        return tokenize(tokenizer, text)

    # -- generation -------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [self._call(partial(self._generate_one, request)) for request in requests]

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Runs the requests concurrently: TGI batches them server-side."""
        await self._ainfo()
        calls = (self._acall(partial(self._agenerate_one, r)) for r in requests)
        return list(await asyncio.gather(*calls))

    def stream(self, request: GenerationRequest) -> Iterator[TextDelta]:
        kwargs = self._kwargs(request)
        with self._sync_client() as client:
            events = self._call(
                lambda: iter(
                    client.text_generation(request.prompt, stream=True, details=True, **kwargs)
                )
            )
            state = StreamState(self, request.prompt, request.params)
            for event in guard_sync(events):
                yield from state.feed(event)
                if state.stopped_here:
                    break
            yield from state.finish()

    async def astream(self, request: GenerationRequest) -> AsyncIterator[TextDelta]:
        await self._ainfo()
        kwargs = self._kwargs(request)
        # Closing this call's client closes its HTTP stream, even when cancelled midway.
        async with self._async_client() as client:
            events = await self._acall(
                lambda: client.text_generation(request.prompt, stream=True, details=True, **kwargs)
            )
            state = StreamState(self, request.prompt, request.params)
            async for event in guard_async(events):
                for delta in state.feed(event):
                    yield delta
                if state.stopped_here:
                    break
            for delta in state.finish():
                yield delta

    def _generate_one(self, request: GenerationRequest) -> Generation:
        kwargs = self._kwargs(request)
        with capture_headers() as headers, self._sync_client() as client:
            output = client.text_generation(request.prompt, details=True, **kwargs)
        prompt_tokens = self._prompt_tokens(
            request.prompt, _header_int(headers, PROMPT_TOKENS_HEADER)
        )
        return self._to_generation(
            output.generated_text, output.details, request.params, prompt_tokens
        )

    async def _agenerate_one(self, request: GenerationRequest) -> Generation:
        kwargs = self._kwargs(request)
        async with self._async_client() as client:
            with capture_headers() as headers:
                output = await client.text_generation(request.prompt, details=True, **kwargs)
        prefill = _header_int(headers, PROMPT_TOKENS_HEADER)
        if not prefill:  # not TGI's router (or an old one): ask /tokenize
            loop = asyncio.get_running_loop()
            prefill = await loop.run_in_executor(None, self.info.count_tokens, request.prompt)
        return self._to_generation(output.generated_text, output.details, request.params, prefill)

    def _prompt_tokens(self, prompt: str, reported: int | None) -> int:
        """The server's count of prompt tokens: from its reply, else from ``/tokenize``."""
        if reported:
            return reported
        return self._call(lambda: self.info.count_tokens(prompt))

    def _to_generation(
        self, text: str, details: Any, params: GenerationParams, prompt_tokens: int
    ) -> Generation:
        cut, matched = cut_at_stop(text, params.stop)
        reason: FinishReason = details.finish_reason
        if matched is not None:
            reason = "stop_sequence"
        elif reason not in ("eos_token", "stop_sequence", "length"):
            reason = "length"
        return Generation(
            text=cut,
            finish_reason=reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=int(details.generated_tokens),
            model=self.model_name,
            stop_sequence=matched,
        )

    # -- parameters -------------------------------------------------------------------------

    def _kwargs(self, request: GenerationRequest) -> dict[str, Any]:
        """TGI parameters for a request, shaped the way TGI validates them."""
        params = request.params
        info = self.info
        # TGI's POST / prepends the prompt for text-generation models unless told not to.
        kwargs: dict[str, Any] = {"return_full_text": False}
        if info.may_exceed_input_limit(request.prompt):
            prompt_tokens = self._call(lambda: info.count_tokens(request.prompt))
            limit = info.max_input_tokens
            if limit is not None and prompt_tokens > limit:
                if not self.truncate:
                    raise PromptTooLongError(
                        f"the prompt is {prompt_tokens} tokens but {redact_url(self.base_url)} "
                        f"accepts at most {limit} (max_input_tokens); shorten it or pass "
                        "truncate=True"
                    )
                kwargs["truncate"] = limit
        if params.max_new_tokens is not None:
            kwargs["max_new_tokens"] = params.max_new_tokens
        if params.greedy:
            kwargs["do_sample"] = False
        else:
            kwargs["do_sample"] = True
            kwargs["temperature"] = params.temperature
            if params.top_p is not None and params.top_p < 1.0:
                kwargs["top_p"] = params.top_p
            if params.top_k is not None:
                kwargs["top_k"] = params.top_k
        if params.repetition_penalty is not None:
            kwargs["repetition_penalty"] = params.repetition_penalty
        if params.seed is not None:
            kwargs["seed"] = params.seed
        if params.stop:
            # TGI takes at most max_stop_sequences; the rest are applied here, client-side.
            kwargs["stop"] = list(params.stop[: info.max_stop_sequences])
        if params.grammar is not None:  # TGI's constrained decoding: {"type", "value"}
            grammar = params.grammar
            value = grammar.schema if grammar.kind == "json" else grammar.value
            kwargs["grammar"] = {"type": grammar.kind, "value": value}
        return kwargs

    # -- clients ----------------------------------------------------------------------------

    @contextmanager
    def _sync_client(self) -> Iterator[InferenceClient]:
        """A hub client for one call, closed after it.

        huggingface_hub's sync client keeps every response it made until it is closed, so a
        long-lived one grows without bound; a client costs microseconds and shares the hub's
        pooled session, so one per call costs nothing and holds nothing.
        """
        client = InferenceClient(**self._client_options())
        try:
            yield client
        finally:
            client.close()

    @asynccontextmanager
    async def _async_client(self) -> AsyncIterator[AsyncInferenceClient]:
        """A hub client for one call on this event loop's pooled session, closed after it."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None:
            session = self._sessions[loop] = new_async_session(self.max_connections)
        client = SessionInferenceClient(session, **self._client_options())
        try:
            yield client
        finally:
            await client.close()

    async def aclose(self) -> None:
        """Close this event loop's HTTP connections."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.aclose()

    def close(self) -> None:
        """Nothing to release on the sync side: each call's client is closed after it."""

    def _client_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "base_url": self.base_url,
            "timeout": self.timeout,
            "headers": self._headers(),
        }
        if self.api_key is not None:
            options["api_key"] = self.api_key.get_secret_value()
        return options

    async def _ainfo(self) -> TGIInfo:
        if self._info is None:
            await asyncio.get_running_loop().run_in_executor(None, lambda: self.info)
        assert self._info is not None
        return self._info

    # -- faults -----------------------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except Exception as exc:
                error = self._translate(exc)
                if not retryable(exc) or attempt == self.max_retries:
                    raise error from exc
                time.sleep(self._delay(attempt))
        raise AssertionError("unreachable")

    async def _acall(self, fn: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(self.max_retries + 1):
            try:
                return await fn()
            except Exception as exc:
                error = self._translate(exc)
                if not retryable(exc) or attempt == self.max_retries:
                    raise error from exc
                await asyncio.sleep(self._delay(attempt))
        raise AssertionError("unreachable")

    def _delay(self, attempt: int) -> float:
        ceiling = min(self.max_backoff, self.backoff * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # exponential backoff with jitter

    def _translate(self, exc: Exception) -> Exception:
        url = redact_url(self.base_url)
        if isinstance(exc, httpx.ConnectError | ConnectionError):
            return TGIConnectionError(f"could not connect to TGI at {url}: {exc}")
        if isinstance(exc, InferenceTimeoutError | httpx.TimeoutException | asyncio.TimeoutError):
            return TimeoutError(f"TGI at {url} did not answer within timeout={self.timeout} s")
        if isinstance(exc, TextGenerationError):
            return exc
        if isinstance(exc, HfHubHTTPError):
            status = exc.response.status_code if exc.response is not None else None
            return TGIError(f"TGI at {url} answered {status}: {server_message(exc)}")
        return exc


def _header_int(headers: dict[str, str], name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def _check_url(url: str) -> str:
    if not isinstance(url, str):
        raise ValueError(f"base_url={url!r} is invalid: expected http(s)://host[:port]")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url={redact_url(url)!r} is invalid: expected http(s)://host[:port]")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"base_url={redact_url(url)!r} is invalid: {exc}") from exc
    return url.rstrip("/")
