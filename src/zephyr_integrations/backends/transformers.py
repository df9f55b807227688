"""The local Hugging Face Transformers backend.

Constructing a :class:`TransformersBackend` checks its arguments and nothing more; the model is
loaded on first use and shared by every backend with the same (model, dtype, device, revision,
gguf_file), so building chat models in a loop costs nothing.
"""

from __future__ import annotations

import asyncio
import queue
import re
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from zephyr_integrations.backends.base import (
    Generation,
    GenerationParams,
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
from zephyr_integrations.backends.stops import StopStreamer

if TYPE_CHECKING:
    from zephyr_integrations.backends.hf_engine import TransformersEngine

Dtype = Literal["auto", "float32", "bfloat16", "float16"]

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_ENGINES: dict[tuple[Any, ...], TransformersEngine] = {}
_ENGINES_LOCK = threading.Lock()
_DONE = object()


class ModelNotFoundError(FileNotFoundError):
    """A model that is neither a local model folder nor a loadable Hugging Face Hub id."""


class TransformersBackend:
    """Runs a causal LM with ``transformers`` on this machine.

    Args:
        model: a local folder (``save_pretrained`` output) or a Hugging Face Hub id such as
            ``HuggingFaceH4/zephyr-7b-beta``.
        dtype: weights dtype; ``"auto"`` keeps the checkpoint's. Use ``"float32"`` where
            results must not depend on batch composition.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``; by default the best available.
        revision: a Hub revision (branch, tag or commit).
        gguf_file: the GGUF file inside ``model`` to load (dequantized on load).
        max_batch_size: the most requests run in one ``generate`` call.
    """

    batches_locally = True
    """Several requests run faster as one padded ``generate`` than one by one."""
    supports_grammar = True
    """``GenerationParams.grammar`` is honoured (llguidance token masks)."""

    def __init__(
        self,
        model: str,
        *,
        dtype: Dtype = "auto",
        device: str | None = None,
        revision: str | None = None,
        gguf_file: str | None = None,
        trust_remote_code: bool = False,
        max_batch_size: int = 32,
    ) -> None:
        self._source = resolve_model(model)
        if dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ValueError(
                f"dtype={dtype!r} is invalid: expected auto, float32, bfloat16 or float16"
            )
        if not isinstance(max_batch_size, int) or max_batch_size < 1:
            raise ValueError(f"max_batch_size={max_batch_size!r} is invalid: expected >= 1")
        source_dir = Path(self._source)
        if gguf_file is not None and source_dir.is_dir() and not (source_dir / gguf_file).is_file():
            raise ModelNotFoundError(f"gguf_file {gguf_file!r} is not in {self._source}")
        self.model = model
        self.dtype = dtype
        self.device = device
        self.revision = revision
        self.gguf_file = gguf_file
        self.trust_remote_code = trust_remote_code
        self.max_batch_size = max_batch_size

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
        if engine is None:
            with _ENGINES_LOCK:
                engine = _ENGINES.get(key)
                if engine is None:
                    engine = self._load()
                    _ENGINES[key] = engine
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
                self._source, self.model, dtype=self.dtype, device=self.device, **options
            )
        except OSError as exc:
            raise ModelNotFoundError(
                f"could not load model {self.model!r}: it is not a local model folder and "
                "could not be fetched from the Hugging Face Hub or found in its cache "
                f"({exc}). Pass a local folder, or run once with network access."
            ) from exc

    # -- generation -------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return self._generate(requests, None)

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        cancel = threading.Event()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, self._generate, requests, cancel)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel.set()
            future.add_done_callback(_consume_outcome)
            raise

    def _generate(
        self, requests: Sequence[GenerationRequest], cancel: threading.Event | None
    ) -> list[Generation]:
        engine = self.engine
        results: dict[int, Generation] = {}
        for params, indices in _group_by_params(requests):
            for start in range(0, len(indices), self.max_batch_size):
                chunk = indices[start : start + self.max_batch_size]
                prompts = [requests[i].prompt for i in chunk]
                for index, generation in zip(
                    chunk, engine.run(prompts, params, cancel=cancel), strict=True
                ):
                    results[index] = generation
        return [results[i] for i in range(len(requests))]

    def stream(self, request: GenerationRequest) -> Iterator[TextDelta]:
        pieces: queue.Queue[Any] = queue.Queue()
        cancel = threading.Event()
        worker = self._start_worker(request, cancel, pieces.put)
        try:
            yield from _release(iter(pieces.get, _DONE), request.params, self.engine)
        finally:
            cancel.set()
            worker.join()

    async def astream(self, request: GenerationRequest) -> AsyncIterator[TextDelta]:
        pieces: asyncio.Queue[Any] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        cancel = threading.Event()
        await loop.run_in_executor(None, lambda: self.engine)  # load off the event loop

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(pieces.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening any more
                cancel.set()

        self._start_worker(request, cancel, put)
        try:
            streamer = StopStreamer((*request.params.stop, *self.engine.text_eos))
            while (item := await pieces.get()) is not _DONE:
                for delta in _handle(item, streamer):
                    yield delta
        finally:
            cancel.set()

    def _start_worker(
        self, request: GenerationRequest, cancel: threading.Event, put: Any
    ) -> threading.Thread:
        engine = self.engine

        def work() -> None:
            try:
                put(engine.run([request.prompt], request.params, cancel=cancel, on_text=put)[0])
            except BaseException as exc:  # handed to the consumer, which re-raises it
                put(exc)
            finally:
                put(_DONE)

        worker = threading.Thread(target=work, name="zephyr-generate", daemon=True)
        worker.start()
        return worker


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # cancelled by our caller: the outcome is no longer wanted


def _release(
    items: Iterator[Any], params: GenerationParams, engine: TransformersEngine
) -> Iterator[TextDelta]:
    streamer = StopStreamer((*params.stop, *engine.text_eos))
    for item in items:
        yield from _handle(item, streamer)


def _handle(item: Any, streamer: StopStreamer) -> Iterator[TextDelta]:
    if isinstance(item, BaseException):
        raise item
    if isinstance(item, Generation):
        tail = streamer.flush()
        if tail:
            yield TextDelta(tail)
        yield TextDelta(generation=item)
        return
    released = streamer.push(item)
    if released:
        yield TextDelta(released)


def _group_by_params(
    requests: Sequence[GenerationRequest],
) -> list[tuple[GenerationParams, list[int]]]:
    groups: dict[GenerationParams, list[int]] = {}
    for index, request in enumerate(requests):
        groups.setdefault(request.params, []).append(index)
    return list(groups.items())


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
