"""ChatZephyr: Zephyr-family models as a LangChain chat model.

This module is LangChain plumbing only. It renders messages with the exact Zephyr format,
hands a backend a plain :class:`~zephyr_integrations.backends.base.GenerationRequest`, and turns
what comes back into ``AIMessage``s. It knows nothing of torch or HTTP.
"""

from __future__ import annotations

import contextvars
import inspect
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, cast

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.globals import get_llm_cache
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    SystemMessage,
    ToolCallChunk,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, model_validator
from typing_extensions import Self

from zephyr_integrations import plugins
from zephyr_integrations.backends.base import (
    Backend,
    FinishReason,
    Generation,
    GenerationParams,
    GenerationRequest,
)
from zephyr_integrations.backends.stops import StopStreamer
from zephyr_integrations.template import format_messages
from zephyr_integrations.tools import (
    TOOL_CALL_OPEN,
    ToolSpec,
    parse_tool_calls,
    tool_instructions,
)

ZEPHYR_7B_BETA = "HuggingFaceH4/zephyr-7b-beta"
MODEL_PROVIDER = "huggingface"

_FINISH_REASONS: dict[FinishReason, str] = {
    "eos_token": "stop",
    "stop_sequence": "stop",
    "length": "length",
}
_RUNTIME_PARAMS = frozenset(
    {
        "temperature",
        "max_tokens",
        "max_new_tokens",
        "top_p",
        "top_k",
        "repetition_penalty",
        "seed",
        "timeout",
    }
)
_BOUND_KWARGS = frozenset({"tools", "tool_choice"})

# Generations computed by one batched call, waiting for the per-input runs of batch()/abatch().
Prefilled = dict[tuple[str, GenerationParams], deque[Generation | BaseException]]
_PREFILLED: contextvars.ContextVar[Prefilled | None] = contextvars.ContextVar(
    "zephyr_prefilled", default=None
)


class ChatZephyr(BaseChatModel):
    """Zephyr (HuggingFaceH4/zephyr-7b-beta and its family) as a LangChain chat model.

    Example:
        ```python
        from zephyr_integrations import ChatZephyr

        llm = ChatZephyr(model="HuggingFaceH4/zephyr-7b-beta", backend="transformers")
        llm.invoke("What is DPO?")
        ```

    The prompt is rendered exactly as Zephyr was trained (see
    :func:`zephyr_integrations.format_messages`); tool calls and tool results are rendered into
    turns the model can read instead of being dropped.
    """

    model: str = Field(default=ZEPHYR_7B_BETA, alias="model_name")
    """A Hugging Face Hub id or a local model folder."""
    backend: str | Backend = "transformers"
    """A registered backend name (see ``zephyr_integrations.plugins``) or a backend instance."""
    backend_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Options for building a named backend (``dtype``, ``device``, ``truncate``, ...)."""
    base_url: str | None = None
    """The server of a remote backend, e.g. ``http://127.0.0.1:8080`` for ``backend="tgi"``."""
    api_key: SecretStr | None = None
    """Bearer token for a remote backend; never sent unless given, never shown."""
    temperature: float | None = None
    """Sampling temperature; 0 (or unset) means greedy decoding."""
    max_tokens: int | None = Field(default=None, alias="max_new_tokens")
    """The most tokens to generate (the backend's default when unset)."""
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    """Stop sequences: generation stops at the first, which is cut from the text."""
    seed: int | None = None
    """Makes sampling reproducible."""
    timeout: float | None = None
    """Seconds a generation may take before it is stopped and ``TimeoutError`` raised."""
    max_retries: int = Field(default=2, ge=0)
    """Retries of transient backend failures (remote backends)."""
    streaming: bool = False
    """Stream from the backend even in ``invoke`` (for token callbacks)."""
    stream_usage: bool = True
    """Attach usage to the last chunk of a stream."""

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    _backend: Backend = PrivateAttr()

    @model_validator(mode="after")
    def _build_backend(self) -> Self:
        self._params(stop=None)  # validates every sampling field before anything loads
        if isinstance(self.backend, str):
            factory = plugins.get_backend_factory(self.backend)
            self._backend = factory(model=self.model, **self._backend_options(factory))
        elif isinstance(self.backend, Backend):
            if self.backend_kwargs:
                raise ValueError("backend_kwargs only apply when backend is given by name")
            self._backend = self.backend
        else:
            raise ValueError(
                f"backend={self.backend!r} is invalid: expected a registered backend name "
                "or an object implementing zephyr_integrations.backends.Backend"
            )
        return self

    def _backend_options(self, factory: Callable[..., Any]) -> dict[str, Any]:
        """``backend_kwargs`` plus the connection fields the backend's factory accepts."""
        accepted = inspect.signature(factory).parameters
        options: dict[str, Any] = {}
        connection = {
            "base_url": self.base_url,
            "api_key": self.api_key,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
        }
        for name, value in connection.items():
            if value is None:
                continue
            if name in accepted:
                options[name] = value
            elif name in ("base_url", "api_key"):
                raise ValueError(f"{name} does not apply to backend {self.backend!r}")
        return {**options, **self.backend_kwargs}

    @property
    def _llm_type(self) -> str:
        return "zephyr-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        backend = self.backend if isinstance(self.backend, str) else type(self.backend).__name__
        return {"model": self.model, "backend": backend, **self._sampling_fields()}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = self._params(stop=stop, **_without_bound(kwargs, "model"))
        ls_params = LangSmithParams(
            ls_provider=MODEL_PROVIDER,
            ls_model_name=kwargs.get("model", self.model),
            ls_model_type="chat",
        )
        if params.temperature is not None:
            ls_params["ls_temperature"] = params.temperature
        if params.max_new_tokens is not None:
            ls_params["ls_max_tokens"] = params.max_new_tokens
        if params.stop:
            ls_params["ls_stop"] = list(params.stop)
        return ls_params

    # -- requests ---------------------------------------------------------------------------

    def _sampling_fields(self) -> dict[str, Any]:
        fields = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "top_k": self.top_k,
            "repetition_penalty": self.repetition_penalty,
            "seed": self.seed,
            "timeout": self.timeout,
        }
        return {key: value for key, value in fields.items() if value is not None}

    def _params(self, stop: list[str] | None, **kwargs: Any) -> GenerationParams:
        unknown = set(kwargs) - _RUNTIME_PARAMS - _BOUND_KWARGS
        unknown = {key for key in unknown if not key.startswith("ls_")}
        if "model" in unknown:
            raise TypeError(
                "a per-call model override is not supported: construct another ChatZephyr "
                "(models are loaded once and shared, so this is cheap)"
            )
        if unknown:
            raise TypeError(
                f"unknown generation parameter(s) {sorted(unknown)}; "
                f"ChatZephyr accepts {sorted(_RUNTIME_PARAMS)} and stop"
            )
        merged = {**self._sampling_fields(), **_without_bound(kwargs)}
        if "max_new_tokens" in merged:
            merged["max_tokens"] = merged.pop("max_new_tokens")
        stops = self.stop if stop is None else stop
        if stops is not None and (isinstance(stops, str) or not isinstance(stops, Sequence)):
            raise TypeError(f"stop={stops!r} is invalid: expected a list of strings")
        return GenerationParams(
            max_new_tokens=merged.get("max_tokens"),
            temperature=merged.get("temperature"),
            top_p=merged.get("top_p"),
            top_k=merged.get("top_k"),
            repetition_penalty=merged.get("repetition_penalty"),
            stop=tuple(dict.fromkeys(stops or ())),
            seed=merged.get("seed"),
            timeout=merged.get("timeout"),
        )

    def _request(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, **kwargs: Any
    ) -> GenerationRequest:
        params = self._params(stop, **kwargs)
        tools: list[ToolSpec] = kwargs.get("tools") or []
        tool_choice = kwargs.get("tool_choice")
        if tools and tool_choice != "none":
            messages = _with_system_text(messages, tool_instructions(tools, tool_choice))
        return GenerationRequest(prompt=format_messages(messages), params=params)

    # -- generation -------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, **kwargs)
        generation = _take_prefilled(request)
        if generation is None and self.streaming:
            chunks = self._stream(messages, stop, run_manager, **kwargs)
            return _result_from_chunks(list(chunks))
        if generation is None:
            generation = self._backend.generate([request])[0]
        return self._result(generation, **kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, **kwargs)
        generation = _take_prefilled(request)
        if generation is None and self.streaming:
            chunks = [c async for c in self._astream(messages, stop, run_manager, **kwargs)]
            return _result_from_chunks(chunks)
        if generation is None:
            generation = (await self._backend.agenerate([request]))[0]
        return self._result(generation, **kwargs)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, **kwargs)
        assembler = _StreamAssembler(self, kwargs)
        for delta in self._backend.stream(request):
            for chunk in assembler.feed(delta.text, delta.generation):
                if run_manager and chunk.text:
                    run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request = self._request(messages, stop, **kwargs)
        assembler = _StreamAssembler(self, kwargs)
        stream = self._backend.astream(request)
        try:
            async for delta in stream:
                for chunk in assembler.feed(delta.text, delta.generation):
                    if run_manager and chunk.text:
                        await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
        finally:
            await cast(Any, stream).aclose()

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
        requests = self._batch_requests(inputs, kwargs)
        try:
            outcomes: Sequence[Generation | BaseException] = self._backend.generate(requests)
        except Exception as exc:  # every input of the batch reports the failure
            outcomes = [exc] * len(requests)
        token = _PREFILLED.set(self._prefill(requests, outcomes))
        try:
            return super().batch(inputs, config, return_exceptions=return_exceptions, **kwargs)
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
        requests = self._batch_requests(inputs, kwargs)
        try:
            outcomes: Sequence[Generation | BaseException] = await self._backend.agenerate(requests)
        except Exception as exc:
            outcomes = [exc] * len(requests)
        token = _PREFILLED.set(self._prefill(requests, outcomes))
        try:
            return await super().abatch(
                inputs, config, return_exceptions=return_exceptions, **kwargs
            )
        finally:
            _PREFILLED.reset(token)

    def _batch_requests(
        self, inputs: list[LanguageModelInput], kwargs: dict[str, Any]
    ) -> list[GenerationRequest]:
        """Requests for the inputs that can run together; the rest take the one-by-one path
        (where a bad input raises its own clear error) ."""
        if not getattr(self._backend, "batches_locally", False):
            return []  # a server batches by itself: LangChain's concurrent batch is right
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

    # -- messages ---------------------------------------------------------------------------

    def _result(self, generation: Generation, **kwargs: Any) -> ChatResult:
        text, tool_calls, invalid = _split_tool_calls(generation.text, kwargs)
        message = AIMessage(
            content=text,
            tool_calls=tool_calls,
            invalid_tool_calls=invalid,
            usage_metadata=_usage(generation),
            response_metadata=self._response_metadata(generation),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _response_metadata(self, generation: Generation) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "model_name": generation.model or self.model,
            "model_provider": MODEL_PROVIDER,
            "finish_reason": _FINISH_REASONS[generation.finish_reason],
        }
        if generation.stop_sequence is not None:
            metadata["stop_sequence"] = generation.stop_sequence
        return metadata

    # -- tools ------------------------------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Describe ``tools`` to the model in the system turn and parse its calls.

        ``tool_choice``: ``None``/``"auto"``, ``"none"``, ``"any"``/``"required"`` (or
        ``True``), a tool name, or ``{"type": "function", "function": {"name": ...}}``.
        """
        specs = [ToolSpec.from_openai(convert_to_openai_tool(tool)) for tool in tools]
        choice = _normalize_tool_choice(tool_choice, [spec.name for spec in specs])
        return super().bind(tools=specs, tool_choice=choice, **kwargs)


class _StreamAssembler:
    """Turns backend text deltas into chunks; holds back tool-call blocks when tools are bound."""

    def __init__(self, chat: ChatZephyr, kwargs: dict[str, Any]) -> None:
        self.chat = chat
        self.kwargs = kwargs
        self.tools_bound = bool(kwargs.get("tools")) and kwargs.get("tool_choice") != "none"
        self.content = StopStreamer((TOOL_CALL_OPEN,)) if self.tools_bound else None

    def feed(self, text: str, generation: Generation | None) -> Iterator[ChatGenerationChunk]:
        if generation is None:
            released = self.content.push(text) if self.content else text
            if released:
                yield ChatGenerationChunk(message=AIMessageChunk(content=released))
            return
        tool_call_chunks: list[ToolCallChunk] = []
        if self.content is not None:
            tail = self.content.flush()
            if tail:
                yield ChatGenerationChunk(message=AIMessageChunk(content=tail))
            _, calls, _ = _split_tool_calls(generation.text, self.kwargs)
            tool_call_chunks = [
                ToolCallChunk(name=c["name"], args=_json(c["args"]), id=c["id"], index=i)
                for i, c in enumerate(calls)
            ]
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                tool_call_chunks=tool_call_chunks,
                usage_metadata=_usage(generation) if self.chat.stream_usage else None,
                response_metadata=self.chat._response_metadata(generation),
                chunk_position="last",
            )
        )


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _usage(generation: Generation) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=generation.prompt_tokens,
        output_tokens=generation.completion_tokens,
        total_tokens=generation.prompt_tokens + generation.completion_tokens,
    )


def _split_tool_calls(text: str, kwargs: dict[str, Any]) -> tuple[str, list[Any], list[Any]]:
    if not kwargs.get("tools") or kwargs.get("tool_choice") == "none":
        return text, [], []
    return parse_tool_calls(text)


def _result_from_chunks(chunks: list[ChatGenerationChunk]) -> ChatResult:
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    message = cast(AIMessageChunk, merged.message)
    return ChatResult(
        generations=[
            ChatGeneration(
                message=AIMessage(
                    content=message.content,
                    tool_calls=message.tool_calls,
                    invalid_tool_calls=message.invalid_tool_calls,
                    usage_metadata=message.usage_metadata,
                    response_metadata=message.response_metadata,
                )
            )
        ]
    )


def _take_prefilled(request: GenerationRequest) -> Generation | None:
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


def _with_system_text(messages: Sequence[BaseMessage], text: str) -> list[BaseMessage]:
    if messages and isinstance(messages[0], SystemMessage) and isinstance(messages[0].content, str):
        first = messages[0].content
        return [SystemMessage(f"{first}\n\n{text}" if first else text), *messages[1:]]
    return [SystemMessage(text), *messages]


def _normalize_tool_choice(
    tool_choice: str | dict[str, Any] | bool | None, names: list[str]
) -> str | None:
    if tool_choice is None or tool_choice is False:
        return None
    if tool_choice is True:
        return "any"
    if isinstance(tool_choice, dict):
        name = tool_choice.get("function", {}).get("name") or tool_choice.get("name")
        if not isinstance(name, str):
            raise ValueError(f"tool_choice={tool_choice!r} names no function")
        tool_choice = name
    if tool_choice in ("auto", "none", "any", "required"):
        return tool_choice
    if tool_choice not in names:
        raise ValueError(
            f"tool_choice={tool_choice!r} names no bound tool; bound tools: {', '.join(names)}"
        )
    return tool_choice


def _without_bound(kwargs: dict[str, Any], *also: str) -> dict[str, Any]:
    return {
        key: value
        for key, value in kwargs.items()
        if key not in _BOUND_KWARGS and key not in also and not key.startswith("ls_")
    }


def _no_stop(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in kwargs.items() if key != "stop"}


__all__ = ["ZEPHYR_7B_BETA", "ChatZephyr"]
