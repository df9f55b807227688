"""ChatZephyr: Zephyr-family models as a LangChain chat model.

This module is LangChain plumbing only. It renders messages with the exact Zephyr format,
hands a backend a plain :class:`~zephyr_integrations.backends.base.GenerationRequest`, and turns
what comes back into ``AIMessage``s. It knows nothing of torch or HTTP.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Literal, cast

from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import (
    BaseChatModel,
    LanguageModelInput,
    ModelProfile,
)
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, field_validator, model_validator
from typing_extensions import Self

from zephyr_integrations import plugins
from zephyr_integrations.backends.base import (
    Backend,
    GenerationParams,
    GenerationRequest,
    Grammar,
    GrammarError,
    agenerate_n,
)
from zephyr_integrations.backends.declaration import BackendDeclaration
from zephyr_integrations.backends.grammar import close_objects, limit_string_lengths
from zephyr_integrations.batching import LocalBatching, take_prefilled
from zephyr_integrations.call_options import check_call_options, sampling_options
from zephyr_integrations.chat_output import (
    StreamAssembler,
    one_call_only,
    result_from_chunks,
    to_result,
    tools_in_use,
    with_system_text,
)
from zephyr_integrations.profile import BackendProfile, check_profile
from zephyr_integrations.redact import redact_url
from zephyr_integrations.response_format import ResponseFormat
from zephyr_integrations.serialization import SerializableChat
from zephyr_integrations.template import format_messages
from zephyr_integrations.token_count import prompt_tokens, token_ids
from zephyr_integrations.tools import (
    ToolSpec,
    forced_call_schema,
    is_forced,
    normalize_tool_choice,
    tool_instructions,
)
from zephyr_integrations.tracing import TracedChat

ZEPHYR_7B_BETA = "HuggingFaceH4/zephyr-7b-beta"


class ChatZephyr(SerializableChat, TracedChat, LocalBatching, BaseChatModel):
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
    base_url: str | list[str] | None = None
    """The server of a remote backend, e.g. ``http://127.0.0.1:8080`` for ``backend="tgi"``;
    several replicas of one model as a list (or joined with ``,`` or ``|``)."""
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
    max_string_length: int | None = Field(default=None, ge=1)
    """In constrained output (forced tool calls, structured output), the longest a JSON string
    may be where its schema sets no ``maxLength``. Off by default; a safety net for weak models
    that would otherwise write one string until ``max_tokens`` runs out."""

    model_config = ConfigDict(
        populate_by_name=True, arbitrary_types_allowed=True, hide_input_in_errors=True
    )

    _backend: Backend = PrivateAttr()

    def __repr_args__(self) -> Any:
        """As pydantic's, with a URL's password masked (``http://user:***@host``)."""
        for name, value in super().__repr_args__():
            if name == "base_url" and isinstance(value, list):
                value = [redact_url(url) if isinstance(url, str) else url for url in value]
            elif name == "base_url" and value:
                value = redact_url(value)
            yield name, value

    @field_validator("profile", mode="before")
    @classmethod
    def _check_profile(cls, profile: Any) -> Any:
        return check_profile(profile)

    @model_validator(mode="after")
    def _build_backend(self) -> Self:
        self._params(stop=None)  # validates every sampling field before anything loads
        self._connect()
        return self

    def _connect(self) -> None:
        """Build the backend (a named one from the registry) and the default profile."""
        if isinstance(self.backend, str):
            declaration = plugins.get_backend(self.backend)
            options = self._backend_options(declaration)
            declaration.check(options, self.backend)
            self._backend = declaration.build(model=self.model, **options)
        elif isinstance(self.backend, Backend):
            if self.backend_kwargs:
                raise ValueError("backend_kwargs only apply when backend is given by name")
            self._backend = self.backend
        else:
            raise ValueError(
                f"backend={self.backend!r} is invalid: expected a registered backend name "
                "or an object implementing zephyr_integrations.backends.Backend"
            )
        if self.profile is None:  # a user-given profile wins
            self.profile = cast(ModelProfile, BackendProfile(self._backend))

    def _backend_options(self, declaration: BackendDeclaration) -> dict[str, Any]:
        """``backend_kwargs`` plus the connection fields the backend declares as options."""
        accepted = declaration.option_names
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
            if accepted is None or name in accepted:
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

    # -- token counts -----------------------------------------------------------------------

    def get_token_ids(self, text: str) -> list[int]:
        """``text``'s token ids with the model's own tokenizer, read as a prompt (BOS
        included): the local tokenizer, or TGI's ``/tokenize``."""
        return token_ids(self._backend, text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """The ``input_tokens`` a call with ``messages`` (and ``tools``) uses: the rendered
        Zephyr prompt, counted by the backend's tokenizer. Content Zephyr cannot read (images,
        audio, files) raises :class:`~zephyr_integrations.template.UnsupportedContentError`."""
        return prompt_tokens(self._backend, messages, tools)

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
        check_call_options(kwargs)
        merged = {**self._sampling_fields(), **sampling_options(kwargs)}
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
        tools: list[ToolSpec] = tools_in_use(kwargs)
        tool_choice = kwargs.get("tool_choice")
        response_format = kwargs.get("response_format")
        answer = None if response_format is None else ResponseFormat.read(response_format)
        schema: dict[str, Any] | None = None
        if tools:
            messages = with_system_text(messages, tool_instructions(tools, tool_choice))
            if one_call_only(kwargs):
                messages = with_system_text(messages, "Call at most one tool per reply.")
            if tool_choice is not None and is_forced(tool_choice):
                schema = forced_call_schema(tools, tool_choice)
            elif answer is not None:
                schema = answer.with_tools(tools)
                messages = with_system_text(messages, answer.instructions(tools))
        elif answer is not None:
            schema = answer.schema
            messages = with_system_text(messages, answer.instructions(()))
        if schema is not None:
            params = dataclasses.replace(params, grammar=self._grammar(schema))
        return GenerationRequest(prompt=format_messages(messages), params=params)

    def _grammar(self, schema: dict[str, Any]) -> Grammar:
        """Constrained decoding for ``schema``, on a backend that can do it."""
        if not getattr(self._backend, "supports_grammar", False):
            raise GrammarError(
                f"{type(self._backend).__name__} cannot constrain decoding (no "
                "supports_grammar), which forced tool calls and structured output need"
            )
        schema = close_objects(schema)
        if self.max_string_length is not None:
            schema = limit_string_lengths(schema, self.max_string_length)
        return Grammar.json_schema(schema)

    # -- generation -------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, **kwargs)
        generation = take_prefilled(request)
        if generation is None and self.streaming:
            chunks = self._stream(messages, stop, run_manager, **kwargs)
            return result_from_chunks(list(chunks))
        if generation is None:
            generation = self._backend.generate([request])[0]
        return to_result(generation, kwargs, self.model)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, **kwargs)
        generation = take_prefilled(request)
        if generation is None and self.streaming:
            chunks = [c async for c in self._astream(messages, stop, run_manager, **kwargs)]
            return result_from_chunks(chunks)
        if generation is None:
            generation = (await self._backend.agenerate([request]))[0]
        return to_result(generation, kwargs, self.model)

    async def acandidates(
        self, input: LanguageModelInput, n: int, **kwargs: Any
    ) -> list[AIMessage]:
        """``n`` answers to ``input`` (candidates for preference data) in one backend call: one
        request with ``n`` where the server can (vLLM, SGLang), else ``n`` requests with seeds
        ``seed``, ``seed + 1``, ... Options as for ``ainvoke``."""
        messages = self._convert_input(input).to_messages()
        request = self._request(messages, kwargs.pop("stop", None), **kwargs)
        found = await agenerate_n(self._backend, request, n)
        return [cast(AIMessage, to_result(g, kwargs, self.model).generations[0].message)
                for g in found]  # fmt: skip

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, **kwargs)
        assembler = StreamAssembler(kwargs, self.model, self.stream_usage)
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
        assembler = StreamAssembler(kwargs, self.model, self.stream_usage)
        stream = self._backend.astream(request)
        try:
            async for delta in stream:
                for chunk in assembler.feed(delta.text, delta.generation):
                    if run_manager and chunk.text:
                        await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
        finally:
            await cast(Any, stream).aclose()

    # -- binding ----------------------------------------------------------------------------

    def bind(self, **kwargs: Any) -> Any:  # langchain-core's private _ChatModelBinding
        """Bind call options, checked now: an option ChatZephyr cannot honour (``logprobs``,
        ``n``, ...) or a ``response_format`` that is not a JSON schema raises here, not at
        ``invoke``."""
        self._params(kwargs.get("stop"), **{k: v for k, v in kwargs.items() if k != "stop"})
        if kwargs.get("response_format") is not None:
            ResponseFormat.read(kwargs["response_format"])
        return super().bind(**kwargs)

    # -- tools ------------------------------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Describe ``tools`` to the model in the system turn and parse its calls.

        ``tool_choice``: ``None``/``"auto"`` (the model decides), ``"none"``,
        ``"any"``/``"required"``/``True`` (some call), a tool's name, or
        ``{"type": "function", "function": {"name": ...}}``. A forced call is generated under
        constrained decoding, so its arguments always match the tool's schema (``strict`` is
        accepted for compatibility: forced calls are always strict). ``parallel_tool_calls=False``
        keeps a reply to at most one call. With a ``response_format`` (as ``create_agent``'s
        ``ProviderStrategy`` binds it), a reply that calls no tool is JSON matching it, under
        constrained decoding. A tool whose schema cannot be expressed as a grammar, a
        ``tool_choice`` naming no bound tool, or an option ChatZephyr cannot honour raises here.
        """
        specs = [ToolSpec.from_openai(convert_to_openai_tool(tool)) for tool in tools]
        names = [spec.name for spec in specs]
        choice = normalize_tool_choice(tool_choice, names)
        if strict is not None:
            kwargs["strict"] = strict
        return self.bind(tools=specs, tool_choice=choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["json_schema", "function_calling", "json_mode"] = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Replies as ``schema`` (a Pydantic v2 or v1 model, a TypedDict or a JSON schema).

        ``method``: ``"json_schema"`` (the reply is constrained to the schema),
        ``"function_calling"`` (a forced, constrained call of a tool shaped like the schema) or
        ``"json_mode"`` (any JSON object; ``schema`` only parses it). With ``include_raw`` the
        result is ``{"raw": AIMessage, "parsed": ..., "parsing_error": ...}``.
        """
        from zephyr_integrations.structured_output import structured_output

        return structured_output(self, schema, method=method, include_raw=include_raw, **kwargs)


__all__ = ["ZEPHYR_7B_BETA", "ChatZephyr"]
