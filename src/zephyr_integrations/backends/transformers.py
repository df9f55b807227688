"""The local Hugging Face Transformers backend.

Constructing a :class:`TransformersBackend` checks its arguments and nothing more; the model is
loaded on first use and shared by every backend with the same (model, dtype, device, revision,
gguf_file), so building chat models in a loop costs nothing. Every call - ``generate`` from any
thread, ``agenerate``, ``stream``, ``astream`` - joins that model's one continuously batched
decode loop (:mod:`zephyr_integrations.backends.hf_scheduler`).
"""

from __future__ import annotations

import asyncio
import queue
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zephyr_integrations.backends.base import (
    Generation,
    GenerationRequest,
    TextDelta,
    TokenLimits,
)
from zephyr_integrations.backends.hf_files import (
    Token,
    context_length,
    load_tokenizer,
    read_config,
    tokenize,
)
from zephyr_integrations.backends.hf_options import Dtype, TransformersOptions
from zephyr_integrations.backends.stops import StopStreamer

if TYPE_CHECKING:
    from zephyr_integrations.backends.hf_engine import TransformersEngine
    from zephyr_integrations.backends.hf_sequence import Sequence as Row

Outcome = Generation | BaseException
_Submitted = Any  # a submitted row, or the error that kept a request out

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_ENGINES: dict[tuple[Any, ...], TransformersEngine] = {}
_ENGINES_LOCK = threading.Lock()
_DONE = object()


class ModelNotFoundError(FileNotFoundError):
    """A model that is neither a local model folder nor a loadable Hugging Face Hub id."""


class TransformersBackend:
    """Runs a causal LM with ``transformers`` on this machine, continuously batched.

    Args:
        model: a local folder (``save_pretrained`` output) or a Hugging Face Hub id such as
            ``HuggingFaceH4/zephyr-7b-beta``.
        dtype: weights dtype; ``"auto"`` keeps the checkpoint's. Use ``"float32"`` where
            results must not depend on batch composition.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``; by default the best available.
        revision: a Hub revision (branch, tag or commit).
        gguf_file: the GGUF file inside ``model`` to load (dequantized on load).
        max_batch_size: the most sequences decoding together on this model (default 64);
            more requests wait in a first-come-first-served queue.
        max_cache_tokens: the most KV-cache token positions over the running sequences,
            padding included (default: no cap beyond ``max_batch_size``).

    The caps belong to the loaded model, which every backend on it shares: the first backend
    that sets them sets them for all, and another asking for different caps is refused.
    """

    batches_locally = True
    """Requests given together start together in the running batch."""
    supports_grammar = True
    """``GenerationParams.grammar`` is honoured (llguidance token masks, per row)."""

    def __init__(
        self,
        model: str,
        *,
        dtype: Dtype = "auto",
        device: str | None = None,
        revision: str | None = None,
        gguf_file: str | None = None,
        trust_remote_code: bool = False,
        max_batch_size: int | None = None,
        max_cache_tokens: int | None = None,
    ) -> None:
        self.options = TransformersOptions(
            dtype=dtype,
            device=device,
            revision=revision,
            gguf_file=gguf_file,
            trust_remote_code=trust_remote_code,
            max_batch_size=max_batch_size,
            max_cache_tokens=max_cache_tokens,
        )
        self._source = resolve_model(model)
        self._limits = self.options.limits
        self._explicit_limits = max_batch_size is not None or max_cache_tokens is not None
        source_dir = Path(self._source)
        if gguf_file is not None and source_dir.is_dir() and not (source_dir / gguf_file).is_file():
            raise ModelNotFoundError(f"gguf_file {gguf_file!r} is not in {self._source}")
        self.model = model
        self.dtype = dtype
        self.device = device
        self.revision = revision
        self.gguf_file = gguf_file
        self.trust_remote_code = trust_remote_code
        self.max_batch_size = self._limits.max_batch_size
        self.max_cache_tokens = max_cache_tokens

    def __repr__(self) -> str:
        return f"TransformersBackend(model={self.model!r}, dtype={self.dtype!r})"

    @property
    def model_name(self) -> str:
        return self.model

    @property
    def engine(self) -> TransformersEngine:
        """The loaded model (loading it on first access)."""
        key = (self._source, self.dtype, self.device, self.revision, self.gguf_file)
        engine = _ENGINES.get(key)
        if engine is None or (self._explicit_limits and engine.limits != self._limits):
            with _ENGINES_LOCK:
                engine = _ENGINES.get(key)
                if engine is None:
                    engine = self._load()
                    engine.limits_set = self._explicit_limits
                    _ENGINES[key] = engine
                elif self._explicit_limits:
                    engine.adopt_limits(self._limits, f"model {self.model!r}")
        return engine

    def _loaded_engine(self) -> TransformersEngine | None:
        return _ENGINES.get((self._source, self.dtype, self.device, self.revision, self.gguf_file))

    def token_limits(self) -> TokenLimits:
        """The model's context length, from its config (no weights loaded)."""
        engine = self._loaded_engine()
        if engine is not None:
            context = engine.context_length
        else:
            context = context_length(read_config(self._source, self.revision))
        return TokenLimits(None if context is None else context - 1, context)

    def tokenize(self, text: str) -> list[Token]:
        """``text`` as the model reads a prompt (BOS included), with the model's own tokenizer
        (loaded alone when the weights are not)."""
        engine = self._loaded_engine()
        tokenizer = (
            engine.tokenizer
            if engine is not None
            else load_tokenizer(self._source, self.revision, self.gguf_file, self.trust_remote_code)
        )
        return tokenize(tokenizer, text)

    def _load(self) -> TransformersEngine:
        from zephyr_integrations.backends.hf_engine import TransformersEngine

        options: dict[str, Any] = {"trust_remote_code": self.trust_remote_code}
        if self.revision is not None:
            options["revision"] = self.revision
        if self.gguf_file is not None:
            options["gguf_file"] = self.gguf_file
        try:
            return TransformersEngine.load(
                self._source,
                self.model,
                dtype=self.dtype,
                device=self.device,
                limits=self._limits,
                **options,
            )
        except OSError as exc:
            raise ModelNotFoundError(
                f"could not load model {self.model!r}: it is not a local model folder and "
                "could not be fetched from the Hugging Face Hub or found in its cache "
                f"({exc}). Pass a local folder, or run once with network access."
            ) from exc

    # -- generation -------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [_raise_or_return(outcome) for outcome in self.generate_each(requests)]

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return [_raise_or_return(outcome) for outcome in await self.agenerate_each(requests)]

    def generate_each(self, requests: Sequence[GenerationRequest]) -> list[Outcome]:
        """Every request's generation, or the error of that request alone."""
        engine = self.engine
        rows = _submit(engine, requests)
        try:
            return [row if isinstance(row, BaseException) else _outcome(row) for row in rows]
        finally:
            for row in rows:
                if not isinstance(row, BaseException):
                    engine.cancel(row)

    async def agenerate_each(self, requests: Sequence[GenerationRequest]) -> list[Outcome]:
        loop = asyncio.get_running_loop()
        engine = await loop.run_in_executor(None, lambda: self.engine)  # load off the loop
        rows = await _off_loop(engine, lambda: _submit(engine, requests))
        waiting = [
            asyncio.wrap_future(row.future) for row in rows if not isinstance(row, BaseException)
        ]
        try:
            if waiting:
                await asyncio.wait(waiting)  # a cancelled caller leaves through ``finally``
            return [row if isinstance(row, BaseException) else _outcome(row) for row in rows]
        finally:
            for future in waiting:
                future.cancel()  # nothing is delivered to a loop that may be gone by then
            for row in rows:
                if not isinstance(row, BaseException):
                    engine.cancel(row)

    def stream(self, request: GenerationRequest) -> Iterator[TextDelta]:
        engine = self.engine
        pieces: queue.Queue[Any] = queue.Queue()
        row = engine.submit(request.prompt, request.params, on_text=pieces.put)
        row.future.add_done_callback(lambda _: pieces.put(_DONE))
        try:
            streamer = StopStreamer((*request.params.stop, *engine.text_eos))
            while (piece := pieces.get()) is not _DONE:
                released = streamer.push(piece)
                if released:
                    yield TextDelta(released)
            yield from _last_deltas(row, streamer)
        finally:
            engine.cancel(row)

    async def astream(self, request: GenerationRequest) -> AsyncIterator[TextDelta]:
        loop = asyncio.get_running_loop()
        engine = await loop.run_in_executor(None, lambda: self.engine)  # load off the loop
        pieces: asyncio.Queue[Any] = asyncio.Queue()
        holder: list[Row] = []

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(pieces.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening any more
                for row in holder:
                    row.cancel()

        (row,) = await _off_loop(
            engine, lambda: [engine.submit(request.prompt, request.params, on_text=put)]
        )
        holder.append(row)
        row.future.add_done_callback(lambda _: put(_DONE))
        try:
            streamer = StopStreamer((*request.params.stop, *engine.text_eos))
            while (piece := await pieces.get()) is not _DONE:
                released = streamer.push(piece)
                if released:
                    yield TextDelta(released)
            for delta in _last_deltas(row, streamer):
                yield delta
        finally:
            engine.cancel(row)


async def _off_loop(
    engine: TransformersEngine, submit: Callable[[], list[_Submitted]]
) -> list[_Submitted]:
    """Submit in a worker thread (tokenizing, compiling a grammar); a caller cancelled
    meanwhile leaves no request behind."""
    submitting = asyncio.get_running_loop().run_in_executor(None, submit)
    try:
        return await asyncio.shield(submitting)
    except asyncio.CancelledError:

        def cancel_all(done: asyncio.Future[list[_Submitted]]) -> None:
            if not done.cancelled() and done.exception() is None:
                for row in done.result():
                    if not isinstance(row, BaseException):
                        engine.cancel(row)

        submitting.add_done_callback(cancel_all)
        raise


def _submit(
    engine: TransformersEngine, requests: Sequence[GenerationRequest]
) -> list[Row | BaseException]:
    """Submit the requests together (they start in the same step); a request with bad input
    (too long, a grammar that cannot compile, ...) gets its own error instead."""
    rows: list[Row | BaseException] = []
    for request in requests:
        try:
            rows.append(engine.prepare(request.prompt, request.params))
        except Exception as exc:
            rows.append(exc)
    engine.scheduler.submit(*[row for row in rows if not isinstance(row, BaseException)])
    return rows


def _outcome(row: Row) -> Outcome:
    try:
        return row.future.result()
    except Exception as exc:
        return exc


def _raise_or_return(outcome: Outcome) -> Generation:
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _last_deltas(row: Row, streamer: StopStreamer) -> Iterator[TextDelta]:
    generation = row.future.result()  # raises the request's error
    tail = streamer.flush()
    if tail:
        yield TextDelta(tail)
    yield TextDelta(generation=generation)


def resolve_model(model: str) -> str:
    """A local model folder (as an absolute path) or a Hub id; raise if it is neither."""
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model={model!r} is invalid: expected a model folder or a Hub id")
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelNotFoundError(f"model {model!r} is a file; expected a model folder")
        if not (path / "config.json").is_file() and not any(path.glob("*.gguf")):
            raise ModelNotFoundError(
                f"model folder {model!r} holds no config.json (nor a .gguf file): "
                "is it the output of save_pretrained?"
            )
        return str(path.resolve())
    looks_like_path = model.startswith(("/", "./", "../", "~", "\\")) or model.count("/") > 1
    if looks_like_path or not _HUB_ID.match(model):
        raise ModelNotFoundError(
            f"model folder {model!r} does not exist (and it is not a Hugging Face Hub id)"
        )
    return model
