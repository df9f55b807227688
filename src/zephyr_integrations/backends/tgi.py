"""The Text Generation Inference backend, on the project's remote layer.

The prompt is rendered client-side (the exact Zephyr format) and sent to TGI's native
``/generate`` and ``/generate_stream`` routes with ``details: true``, so token counts and finish
reasons are exact. This module only shapes requests and reads answers (`tgi_wire`); pooling,
deadlines, retries and error translation live in `remote`.

Prompt token counts come from TGI's ``x-prompt-tokens`` header (non-stream, TGI >= 1.4) or the
stream's ``input_length`` (TGI >= 2.3), else from ``/tokenize`` (TGI >= 1.4), else from the
tokenizer of the served model when it is available locally (``/info``'s ``model_id`` as a local
folder or a cached Hub id); failing all of these, ``prompt_tokens`` is left out (``None``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from zephyr_integrations.backends.base import (
    Generation,
    GenerationParams,
    GenerationRequest,
    TextDelta,
    TokenLimits,
)
from zephyr_integrations.backends.remote import (
    DEFAULT_MAX_CONNECTIONS,
    Deadline,
    RemoteClient,
    Reply,
)
from zephyr_integrations.backends.remote_loops import iterate_sync, run_sync
from zephyr_integrations.backends.remote_options import TGIOptions
from zephyr_integrations.backends.stops import cut_at_stop
from zephyr_integrations.backends.tgi_errors import PromptTooLongError, TGIConnectionError, TGIError
from zephyr_integrations.backends.tgi_info import TGIInfo
from zephyr_integrations.backends.tgi_stream import StreamState
from zephyr_integrations.backends.tgi_wire import (
    PROMPT_TOKENS_HEADER,
    Outcome,
    parameters,
    read_generation,
)
from zephyr_integrations.errors import (
    ZephyrError,
    ZephyrModelNotFoundError,
    ZephyrValidationError,
)
from zephyr_integrations.redact import redact_url

__all__ = ["PromptTooLongError", "TGIBackend", "TGIConnectionError", "TGIError"]

TGI_MAX_STOP = 4
_INFO_RETRY_AFTER = 2.0
"""Seconds a failed ``/info`` (retries exhausted) is answered with its error, not asked again."""
logger = logging.getLogger(__name__)


class TGIBackend:
    """Talks to a TGI server (or anything speaking its protocol, such as ``zephyr serve``).

    Args:
        model: the model's name for metadata; by default the server's ``/info`` ``model_id``.
        base_url: the server, e.g. ``http://127.0.0.1:8080``; several replicas of one model
            comma-separated (or a list): requests go to the least busy, refused connections
            are retried on another, and their ``/info`` must name one model.
        api_key: sent as a bearer token; nothing is sent without it (no saved Hub token).
        timeout: seconds a whole call may take, streams included (a per-call ``timeout`` in
            the request's parameters overrides it).
        max_retries: retries of transient failures (refused connections, 429, 503, overload
            events before the first token, cut answers).
        truncate: cut over-long prompts server-side (keeping their end) instead of refusing.
        backoff, max_backoff: the first retry's wait (doubling, with jitter) and its ceiling;
            a server's ``Retry-After`` is honoured.
        max_connections: HTTP connections kept to the server for concurrent async calls.
    """

    supports_grammar = True
    """``GenerationParams.grammar`` goes to TGI's ``grammar`` parameter."""

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | Sequence[str],
        api_key: str | SecretStr | None = None,
        timeout: float = 120.0,
        max_retries: int = 2,
        truncate: bool = False,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        self.options = TGIOptions(
            base_url=base_url,  # type: ignore[arg-type]  # a list is joined by RemoteOptions
            api_key=SecretStr(api_key) if isinstance(api_key, str) else api_key,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            max_backoff=max_backoff,
            max_connections=max_connections,
            truncate=truncate,
        )
        self.truncate = truncate
        self._model = model
        self._remote = RemoteClient(self.options)
        self._info: TGIInfo | None = None
        self._info_task: asyncio.Task[TGIInfo] | None = None
        self._info_failure: tuple[ZephyrError, float] | None = None
        self._has_tokenize = True
        self._local_tokenizer: Any = None

    def __repr__(self) -> str:
        key = "'**********'" if self.options.api_key else "None"
        url = redact_url(self.base_url)
        return f"TGIBackend(base_url={url!r}, api_key={key}, timeout={self.timeout})"

    def __getstate__(self) -> dict[str, Any]:
        return {"options": self.options, "truncate": self.truncate, "model": self._model}

    def __setstate__(self, state: dict[str, Any]) -> None:
        options: TGIOptions = state["options"]
        self.__init__(  # type: ignore[misc]
            state["model"],
            base_url=options.base_url,
            api_key=options.api_key,
            timeout=options.timeout,
            max_retries=options.max_retries,
            truncate=state["truncate"],
            backoff=options.backoff,
            max_backoff=options.max_backoff,
            max_connections=options.max_connections,
        )

    @property
    def base_url(self) -> str:
        return self.options.base_url

    @property
    def api_key(self) -> SecretStr | None:
        return self.options.api_key

    @property
    def timeout(self) -> float:
        return self.options.timeout

    @property
    def max_retries(self) -> int:
        return self.options.max_retries

    # -- server facts -------------------------------------------------------------------------

    @property
    def info(self) -> TGIInfo:
        """The server's ``/info``, read once (retried like any call, within ``timeout``)."""
        if self._info is None:
            run_sync(self._ainfo(self._remote.deadline()))
        assert self._info is not None
        return self._info

    @property
    def model_name(self) -> str:
        return self._model or self.info.model_id

    @property
    def known_model_name(self) -> str | None:
        """The model's name if known without asking the server (named, or ``/info`` read)."""
        return self._model or (self._info.model_id if self._info is not None else None)

    async def _ainfo(self, deadline: Deadline) -> TGIInfo:
        if self._info is not None:
            return self._info
        failed = self._info_failure
        if failed is not None and time.monotonic() - failed[1] < _INFO_RETRY_AFTER:
            # /info failed (after its retries) a moment ago, e.g. read for the model's profile
            # just before this call: the same answer now, instead of a second wait.
            raise failed[0]
        loop = asyncio.get_running_loop()
        task = self._info_task
        if task is None or task.get_loop() is not loop or task.done():
            task = self._info_task = loop.create_task(self._fetch_info(deadline))
        try:
            return await asyncio.shield(task)
        except ZephyrError as error:
            self._info_failure = (error, time.monotonic())
            raise
        finally:
            if task.done():
                self._info_task = None

    async def _fetch_info(self, deadline: Deadline) -> TGIInfo:
        """``/info`` of every replica: they must serve one model (those that refuse connections
        are skipped; all refusing is an error)."""
        replicas = self._remote.replicas
        replies = await asyncio.gather(
            *(self._remote.request_json("GET", "/info", deadline=deadline, replica=url)
              for url in replicas),
            return_exceptions=len(replicas) > 1,
        )  # fmt: skip
        infos = [
            TGIInfo.from_json(r.url.removesuffix("/info"), r.body)
            for r in replies
            if isinstance(r, Reply)
        ]
        if not infos:
            raise next(r for r in replies if isinstance(r, BaseException))
        models = {info.model_id: info.base_url for info in infos}
        if len(models) > 1:
            served = ", ".join(f"{url} serves {model}" for model, url in models.items())
            raise ZephyrValidationError(
                f"base_url names servers of different models ({served}): replicas must serve "
                "one model",
                url=redact_url(self.base_url),
            )
        self._info = infos[0]
        return self._info

    def token_limits(self) -> TokenLimits:
        """``max_input_tokens`` and ``max_total_tokens`` from ``/info``."""
        info = self.info
        return TokenLimits(info.max_input_tokens, info.max_total_tokens)

    def tokenize(self, text: str) -> list[tuple[int, str, int, int]]:
        """The server's tokens of ``text`` (``/tokenize``, BOS included). A server without one
        (TGI < 1.4 answers 404): the served model's tokenizer, if it is on this machine."""
        tokens = run_sync(self._server_tokens(text, self._remote.deadline()))
        if tokens is not None:
            return tokens
        tokenizer = _load_tokenizer(self.info.model_id)
        if tokenizer is False:
            raise LookupError(
                f"TGI at {redact_url(self.base_url)} has no tokenizer (/tokenize answered 404) "
                f"and the tokenizer of {self.info.model_id!r} is not on this machine"
            )
        from zephyr_integrations.backends.hf_files import tokenize

        return tokenize(tokenizer, text)

    async def _server_tokens(
        self, prompt: str, deadline: Deadline
    ) -> list[tuple[int, str, int, int]] | None:
        """``POST /tokenize``; ``None`` when the server has no such route."""
        if not self._has_tokenize:
            return None
        try:
            reply = await self._remote.request_json(
                "POST", "/tokenize", {"inputs": prompt}, deadline=deadline
            )
        except ZephyrModelNotFoundError:  # 404: TGI < 1.4 has no /tokenize
            self._has_tokenize = False
            return None
        body = reply.body
        if not isinstance(body, list) or not all(isinstance(t, dict) for t in body):
            self._has_tokenize = False
            return None
        return [
            (int(t.get("id", 0)), str(t.get("text", "")), int(t.get("start", 0)),
             int(t.get("stop", 0)))
            for t in body
        ]  # fmt: skip

    async def _count_tokens(self, prompt: str, deadline: Deadline) -> int | None:
        """The server's count of ``prompt``'s tokens (``POST /tokenize``), else the local
        tokenizer's, else ``None``."""
        tokens = await self._server_tokens(prompt, deadline)
        if tokens is not None:
            return len(tokens)
        return await deadline.within(asyncio.to_thread(self._count_locally, prompt))

    def _count_locally(self, prompt: str) -> int | None:
        if self._local_tokenizer is None:
            self._local_tokenizer = _load_tokenizer(self._info.model_id if self._info else "")
        if self._local_tokenizer is False:
            return None
        return len(self._local_tokenizer(prompt, add_special_tokens=True)["input_ids"])

    # -- generation ---------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [run_sync(self._agenerate_one(request)) for request in requests]

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Runs the requests concurrently: TGI batches them server-side."""
        return list(await asyncio.gather(*(self._agenerate_one(r) for r in requests)))

    def stream(self, request: GenerationRequest) -> Iterator[TextDelta]:
        return iterate_sync(self.astream(request))

    async def astream(self, request: GenerationRequest) -> AsyncIterator[TextDelta]:
        deadline = self._remote.deadline(request.params.timeout)
        body = await self._body(request, deadline)
        state = StreamState(request.params.stop, self.base_url)
        events = self._remote.stream_events("/generate_stream", body, deadline=deadline)
        try:
            async for event in events:
                text = state.feed(event)
                if text:
                    yield TextDelta(text)
                if state.stopped_here:
                    break
        finally:
            await events.aclose()  # leaving early closes the HTTP stream
        tail, outcome = state.finish()
        if tail:
            yield TextDelta(tail)
        prompt_tokens = outcome.input_length
        if prompt_tokens is None:
            prompt_tokens = await self._count_tokens(request.prompt, deadline)
        if state.stop_sequence is not None:  # matched here, beyond the server's stop limit
            generation = Generation(
                text=state.text,
                finish_reason="stop_sequence",
                prompt_tokens=prompt_tokens,
                completion_tokens=state.tokens,
                model=self.model_name,
                stop_sequence=state.stop_sequence,
            )
        else:
            generation = self._to_generation(outcome, request.params, prompt_tokens, state.tokens)
        yield TextDelta(generation=generation)

    async def _agenerate_one(self, request: GenerationRequest) -> Generation:
        deadline = self._remote.deadline(request.params.timeout)
        body = await self._body(request, deadline)
        reply = await self._remote.request_json("POST", "/generate", body, deadline=deadline)
        outcome = read_generation(reply.body, reply.url)
        prompt_tokens = _header_count(reply.headers.get(PROMPT_TOKENS_HEADER))
        if prompt_tokens is None:  # not TGI's router, or TGI < 1.4
            prompt_tokens = await self._count_tokens(request.prompt, deadline)
        return self._to_generation(outcome, request.params, prompt_tokens, None)

    def _to_generation(
        self,
        outcome: Outcome,
        params: GenerationParams,
        prompt_tokens: int | None,
        seen: int | None,
    ) -> Generation:
        cut, matched = cut_at_stop(outcome.text, params.stop)
        reason = "stop_sequence" if matched is not None else outcome.finish_reason
        generated = outcome.generated_tokens
        return Generation(
            text=cut,
            finish_reason=reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=generated if generated is not None else (seen or 0),
            model=self.model_name,
            stop_sequence=matched,
        )

    # -- requests -----------------------------------------------------------------------------

    async def _body(self, request: GenerationRequest, deadline: Deadline) -> dict[str, Any]:
        """TGI's request body, after checking the prompt fits the server's input limit."""
        info = await self._ainfo(deadline)
        truncate: int | None = None
        limit = info.max_input_tokens
        if limit is not None and info.may_exceed_input_limit(request.prompt):
            count = await self._count_tokens(request.prompt, deadline)
            if count is not None and count > limit:
                if not self.truncate:
                    raise PromptTooLongError(
                        f"the prompt is {count} tokens but {redact_url(self.base_url)} accepts "
                        f"at most {limit} (max_input_tokens); shorten it or pass truncate=True",
                        url=redact_url(self.base_url),
                    )
                truncate = limit
        params = parameters(
            request.params, max_stop_sequences=info.max_stop_sequences, truncate=truncate
        )
        return {"inputs": request.prompt, "parameters": params}

    # -- connections --------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close this event loop's HTTP connections (also done when the loop shuts down)."""
        await self._remote.aclose()

    def close(self) -> None:
        """Nothing to release: sync calls share the remote layer's own connections."""


def _header_count(value: str | None) -> int | None:
    try:
        count = int(value) if value is not None else None
    except ValueError:
        return None
    return count if count else None


@functools.lru_cache(maxsize=8)
def _load_tokenizer(model_id: str) -> Any:
    """The served model's tokenizer if it is on this machine (a folder, or in the Hugging Face
    cache), else ``False``; never downloads, and costs nothing when there is none."""
    if not (Path(model_id).is_dir() or _in_hub_cache(model_id)):
        return False
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(model_id, local_files_only=True)
    except Exception as exc:  # not installed, or not a tokenizer
        logger.info("no local tokenizer for %r, prompt token counts left out: %s", model_id, exc)
        return False


def _in_hub_cache(model_id: str) -> bool:
    if model_id.count("/") != 1:
        return False
    home = os.environ.get("HF_HOME", os.path.join(os.path.expanduser("~"), ".cache", "huggingface"))
    cache = os.environ.get("HF_HUB_CACHE", os.path.join(home, "hub"))
    return Path(cache, "models--" + model_id.replace("/", "--")).is_dir()
