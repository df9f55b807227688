"""Text Generation Inference's HTTP protocol as pure functions: requests in, bodies out.

Request parsing mirrors TGI's router (v3.3.x): a body that does not deserialize into TGI's types
is a ``text/plain`` 422 (``Failed to deserialize the JSON body into the target type: ...``);
a parameter out of range is a JSON 422 ``{"error": "Input validation error: ...",
"error_type": "validation"}``, checked in TGI's order and with TGI's messages. Response
builders give TGI's field names, field order and explicit nulls. No sockets here: see
:mod:`zephyr_integrations.testing.tgi_server`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from zephyr_integrations.backends.base import GenerationParams, InvalidParameterError

VERSION = "3.3.7-zephyr-integrations"
FINGERPRINT = f"{VERSION}-native"
MAX_BEST_OF, MAX_STOP_SEQUENCES, MAX_TOP_N_TOKENS = 2, 4, 5
Json = dict[str, Any]

FAULT_BODIES: dict[int, Json] = {
    424: {
        "error": "Request failed during generation: injected failure",
        "error_type": "generation",
    },
    429: {"error": "Model is overloaded", "error_type": "overloaded"},
    500: {"error": "Incomplete generation", "error_type": "incomplete_generation"},
    503: {"error": "Service Unavailable: the model is not ready", "error_type": "unavailable"},
}
"""The body for each status of an injected failure. TGI itself never answers 503 to a
generation request: that one stands for what is in front of it (a load balancer, an endpoint
whose model is loading)."""
ERROR_STATUS = {"validation": 422, "template_error": 422, "tool_error": 422, "generation": 424}
ERROR_STATUS |= {"overloaded": 429, "incomplete_generation": 500, "unavailable": 503}

Tokenize = Callable[[str], list[tuple[int, str, int, int]]]


class ProtocolError(Exception):
    """A reply other than success: ``body`` is JSON (a dict) or ``text/plain`` (a str)."""

    def __init__(
        self, status: int, body: Json | str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(body if isinstance(body, str) else body.get("error", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}


def error_body(message: str, error_type: str) -> Json:
    return {"error": message, "error_type": error_type}


def failure(error_type: str, message: str) -> ProtocolError:
    return ProtocolError(ERROR_STATUS.get(error_type, 500), error_body(message, error_type))


def invalid(message: str) -> ProtocolError:
    """TGI's input validation error (422, ``validation``)."""
    return failure("validation", f"Input validation error: {message}")


def undeserializable(message: str) -> ProtocolError:
    """axum's answer to a body that does not fit TGI's types (422, text/plain)."""
    return ProtocolError(
        422, f"Failed to deserialize the JSON body into the target type: {message}"
    )


def parse_json_body(raw: bytes, content_type: str | None) -> Any:
    """The JSON body, or axum's 415 (wrong content type) / 400 (not JSON)."""
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime != "application/json" and not mime.endswith("+json"):
        raise ProtocolError(415, "Expected request with `Content-Type: application/json`")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(400, f"Failed to parse the request body as JSON: {exc}") from exc


@dataclass(frozen=True)
class Quirks:
    """What a TGI version writes differently from 3.x, from the router's history.

    ``x-prompt-tokens`` and ``/tokenize`` date from 1.4; the ``data: `` space and
    ``max_input_tokens`` (was ``max_input_length``) from 2.1; a stream's ``input_length`` from
    2.3. Stream events of 2.0 and older replayed without ``index``, so they have none here.
    """

    version: str = VERSION
    prompt_tokens_header: bool = True
    tokenize_route: bool = True
    sse_space: bool = True
    info_max_input_tokens: bool = True
    stream_input_length: bool = True
    event_index: bool = True

    @classmethod
    def of(cls, version: str) -> Quirks:
        numbers = [int(part) for part in version.split("-")[0].split(".") if part.isdigit()]
        v = tuple(numbers + [0] * (3 - len(numbers)))
        return cls(
            version=version,
            prompt_tokens_header=v >= (1, 4, 0),
            tokenize_route=v >= (1, 4, 0),
            sse_space=v >= (2, 1, 0),
            info_max_input_tokens=v >= (2, 1, 0),
            stream_input_length=v >= (2, 3, 0),
            event_index=v >= (2, 1, 0),
        )


# -- deserialization: serde's rules and messages --------------------------------------------

_INTS = {"u32": (0, 2**32 - 1), "i32": (-(2**31), 2**31 - 1), "u64": (0, 2**64 - 1)}
_INTS["usize"] = _INTS["u64"]
_TYPES: dict[str, tuple[type, str]] = {
    "bool": (bool, "a boolean"),
    "string": (str, "a string"),
    "map": (dict, "a map"),
    "strings": (list, "a sequence"),
    "messages": (list, "a sequence"),
}


def _describe(value: Any) -> str:
    if value is None or isinstance(value, list | dict):
        return {type(None): "null", list: "sequence", dict: "map"}[type(value)]
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int | float):
        return f"{'integer' if isinstance(value, int) else 'floating point'} `{value!r}`"
    return f"string {json.dumps(value, ensure_ascii=False)}"


def _has_type(value: Any, expected: type) -> bool:
    return isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))


def _wrong(where: str, value: Any, expected: str) -> ProtocolError:
    where = f"{where}: " if where else ""
    return undeserializable(f"{where}invalid type: {_describe(value)}, expected {expected}")


def read(obj: Mapping[str, Any], name: str, kind: str, *, prefix: str = "", default: Any = None,
         optional: bool = True) -> Any:  # fmt: skip
    """Field ``name`` of ``obj`` as serde reads a Rust field of type ``kind`` (or Option of it)."""
    if name not in obj:
        return default
    value, where = obj[name], f"{prefix}{name}"
    if value is None and optional:
        return None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "f32" and number:
        return float(value)
    if kind in _INTS and number and isinstance(value, int):
        if not _INTS[kind][0] <= value <= _INTS[kind][1]:
            raise undeserializable(f"{where}: invalid value: integer `{value}`, expected {kind}")
        return value
    expected_type, expected = _TYPES.get(kind, (type(None), kind))
    if not _has_type(value, expected_type):
        raise _wrong(where, value, expected)
    item_type: type = str if kind == "strings" else dict
    item_name = "a string" if kind == "strings" else "struct Message"
    items: list[Any] = value if kind in ("strings", "messages") else []
    for index, item in enumerate(items):
        if not _has_type(item, item_type):
            raise _wrong(f"{where}[{index}]", item, item_name)
        if kind == "messages":
            read(item, "role", "string", prefix=f"{where}[{index}].", optional=False)
    return tuple(value) if kind == "strings" else value


@dataclass(frozen=True)
class Grammar:
    """A ``grammar`` / ``response_format``: ``kind`` is ``json`` (value: a schema) or ``regex``."""

    kind: str
    value: Any


@dataclass(frozen=True)
class Parameters:
    """TGI's ``GenerateParameters`` after deserialization."""

    best_of: int | None = None
    temperature: float | None = None
    repetition_penalty: float | None = None
    frequency_penalty: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    typical_p: float | None = None
    do_sample: bool = False
    max_new_tokens: int | None = None
    return_full_text: bool | None = None
    stop: tuple[str, ...] = ()
    truncate: int | None = None
    watermark: bool = False
    details: bool = False
    decoder_input_details: bool = False
    seed: int | None = None
    top_n_tokens: int | None = None
    adapter_id: str | None = None
    grammar: Grammar | None = None


# The Rust type of each GenerateParameters field; the non-Option ones reject null.
_KINDS = dict(kind.split(":") for kind in (
    "best_of:usize temperature:f32 repetition_penalty:f32 frequency_penalty:f32 top_k:i32 "
    "top_p:f32 typical_p:f32 do_sample:bool max_new_tokens:u32 return_full_text:bool "
    "stop:strings truncate:usize watermark:bool details:bool decoder_input_details:bool "
    "seed:u64 top_n_tokens:u32 adapter_id:string").split())  # fmt: skip
_NOT_OPTION = {"do_sample", "stop", "watermark", "details", "decoder_input_details"}
_CHAT_KINDS = dict(kind.split(":") for kind in (
    "max_tokens:u32 max_completion_tokens:u32 temperature:f32 top_p:f32 seed:u64 stop:strings "
    "presence_penalty:f32 frequency_penalty:f32 stream_options:map logprobs:bool "
    "top_logprobs:u32 n:u32 model:string").split())  # fmt: skip


@dataclass(frozen=True)
class GenerateCall:
    """A native request (``POST /``, ``/generate``, ``/generate_stream``) or a chat one."""

    inputs: Any
    parameters: Parameters
    stream: bool = False
    include_usage: bool = False


def parse_generate(body: Any, *, compat: bool) -> GenerateCall:
    """Deserialize a (Compat)GenerateRequest. Without ``parameters``, ``do_sample`` is true."""
    if not isinstance(body, dict):
        raise _wrong("", body, f"struct {'Compat' if compat else ''}GenerateRequest")
    if "inputs" not in body:
        raise undeserializable("missing field `inputs`")
    inputs = read(body, "inputs", "string", optional=False)
    parameters = Parameters(do_sample=True)
    if "parameters" in body:
        obj = body["parameters"]
        if not isinstance(obj, dict):
            raise _wrong("parameters", obj, "struct GenerateParameters")
        values = {
            name: read(obj, name, kind, prefix="parameters.", optional=name not in _NOT_OPTION)
            for name, kind in _KINDS.items()
            if name in obj
        }
        grammar = parse_grammar(obj.get("grammar"), "parameters.grammar")
        parameters = Parameters(**values, grammar=grammar)
    stream = read(body, "stream", "bool", default=False, optional=False) if compat else False
    return GenerateCall(inputs, parameters, stream)


def parse_chat(body: Any) -> GenerateCall:
    """Deserialize a ChatRequest and map it onto native parameters as TGI does.

    ``inputs`` is the list of messages, to be rendered with the chat template. Temperature 0
    means greedy decoding; any other (or none) samples. ``presence_penalty`` becomes
    ``repetition_penalty = presence_penalty + 2``.
    """
    if not isinstance(body, dict):
        raise _wrong("", body, "struct ChatRequest")
    if "messages" not in body:
        raise undeserializable("missing field `messages`")
    messages = read(body, "messages", "messages", optional=False)
    f = {name: read(body, name, kind) for name, kind in _CHAT_KINDS.items()}
    stream = read(body, "stream", "bool", default=False, optional=False)
    options = f["stream_options"] or {}
    include_usage = read(options, "include_usage", "bool", prefix="stream_options.", optional=False)
    grammar = parse_grammar(body.get("response_format"), "response_format")
    grammar = tool_grammar(body.get("tools"), body.get("tool_choice"), grammar)
    temperature, presence = f["temperature"], f["presence_penalty"]
    parameters = Parameters(
        temperature=None if temperature == 0.0 else temperature,
        do_sample=temperature != 0.0,
        repetition_penalty=None if presence is None else presence + 2.0,
        frequency_penalty=f["frequency_penalty"],
        top_p=f["top_p"],
        max_new_tokens=f["max_completion_tokens"] if f["max_tokens"] is None else f["max_tokens"],
        stop=f["stop"] or (),
        details=True,
        seed=f["seed"],
        top_n_tokens=f["top_logprobs"],
        grammar=grammar,
    )
    return GenerateCall(messages, parameters, stream, bool(include_usage))


def parse_grammar(value: Any, where: str) -> Grammar | None:
    """Deserialize a GrammarType: ``{"type": "json"|"json_object"|"regex"|"json_schema", ...}``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _wrong(where, value, "internally tagged enum GrammarType")
    kind = value.get("type")
    for missing in ("type", "value"):
        if missing not in value:
            raise undeserializable(f"{where}: missing field `{missing}`")
    if kind not in ("json", "json_object", "regex", "json_schema"):
        raise undeserializable(
            f"{where}: unknown variant `{kind}`, expected one of `json`, `regex`, `json_schema`"
        )
    if kind == "regex":
        return Grammar("regex", read(value, "value", "string", prefix=f"{where}.", optional=False))
    if kind == "json_schema":
        config = read(value, "value", "map", prefix=f"{where}.", optional=False)
        if "schema" not in config:
            raise undeserializable(f"{where}.value: missing field `schema`")
        return Grammar("json", config["schema"])
    return Grammar("json", value["value"])


def check_grammar(grammar: Grammar) -> None:
    """TGI's checks on a grammar's content (a JSON schema needs ``properties``)."""
    schema = grammar.value
    if grammar.kind == "regex":
        return
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as exc:
            raise invalid(f"grammar is not valid: {exc}") from exc
    if not isinstance(schema, dict):
        raise invalid("grammar is not supported")
    if "properties" not in schema:
        raise invalid("grammar is not valid: Grammar must have a 'properties' field")


def tool_grammar(tools: Any, tool_choice: Any, response_format: Grammar | None) -> Grammar | None:
    """The grammar that tool calling needs (``response_format`` when no tool may be called)."""
    if not tools or tool_choice == "none":
        return response_format
    if response_format is not None:
        raise failure("tool_error", "Tool error: tools and response_format cannot be used together")
    if not isinstance(tools, list) or not all(isinstance(tool, dict) for tool in tools):
        raise _wrong("tools", tools, "a sequence of Tool")
    names = [str((tool.get("function") or {}).get("name")) for tool in tools]
    chosen = (
        (tool_choice.get("function") or {}).get("name") if isinstance(tool_choice, dict) else None
    )
    if isinstance(tool_choice, str) and tool_choice not in ("auto", "required"):
        chosen = tool_choice
    if chosen is not None and chosen not in names:
        raise failure("tool_error", f"Tool error: Tool with name {chosen} not found")
    refs = [{"$ref": f"#/$functions/{name}"} for name in ([chosen] if chosen else names)]
    return Grammar("json", {"properties": {"function": {"anyOf": refs}}})


# -- validation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """A validated request: the prompt, its length in tokens, and the backend's parameters."""

    inputs: str
    input_length: int
    params: GenerationParams
    seed: int | None
    """The sampling seed (TGI draws one when none is given); ``None`` for greedy decoding."""
    grammar: Grammar | None


def validate(p: Parameters, inputs: str, tokenize: Tokenize, *, max_input_tokens: int,
             max_total_tokens: int) -> Plan:  # fmt: skip
    """TGI's ``Validation::validate``: the same checks in the same order, with its messages.

    As TGI's ``NextTokenChooser`` decides, a request samples when ``do_sample`` is true or any
    warper is set (temperature other than 1, top_k, top_p, typical_p); otherwise it is greedy.
    """
    best_of = 1 if p.best_of is None else p.best_of
    warpers = p.temperature not in (None, 1.0) or p.top_k or p.top_p or p.typical_p
    sampling = bool(p.do_sample or warpers)
    checks = [
        (best_of > 1 and not sampling, "you must use sampling when `best_of` is > 1"),
        (p.temperature is not None and p.temperature <= 0,
         "`temperature` must be strictly positive"),
        (p.repetition_penalty is not None and p.repetition_penalty <= 0,
         "`repetition_penalty` must be strictly positive"),
        (p.frequency_penalty is not None and not -2 <= p.frequency_penalty <= 2,
         "`frequency_penalty` must be >= -2.0 and <= 2.0"),
        (p.top_p is not None and not 0 < p.top_p < 1, "`top_p` must be > 0.0 and < 1.0"),
        (p.typical_p is not None and not 0 < p.typical_p < 1,
         "`typical_p` must be > 0.0 and < 1.0"),
        (p.top_k is not None and p.top_k <= 0, "`top_k` must be strictly positive"),
        (p.max_new_tokens == 0, "`max_new_tokens` must be strictly positive"),
        (len(p.stop) > MAX_STOP_SEQUENCES,
         f"`stop` supports up to {MAX_STOP_SEQUENCES} stop sequences. Given: {len(p.stop)}"),
        (p.seed is not None and best_of > 1, "`seed` must not be set when `best_of` > 1"),
        ((p.top_n_tokens or 0) > MAX_TOP_N_TOKENS,
         f"`top_n_tokens` must be >= 0 and <= {MAX_TOP_N_TOKENS}. Given: {p.top_n_tokens}"),
        (not inputs, "`inputs` cannot be empty"),
        (p.truncate is not None and not 0 < p.truncate <= max_input_tokens,
         f"`truncate` must be strictly positive and less than {max_input_tokens}. "
         f"Given: {p.truncate}"),
    ]  # fmt: skip
    for failed, message in checks:
        if failed:
            raise invalid(message)
    tokens = tokenize(inputs)
    if p.truncate is not None and len(tokens) > p.truncate:
        tokens = tokens[-p.truncate :]
        inputs = inputs[min(token[2] for token in tokens) :]
    input_length = len(tokens)
    max_new = (
        max(max_total_tokens - input_length, 0) if p.max_new_tokens is None else p.max_new_tokens
    )
    if input_length + max_new > max_total_tokens:
        raise invalid(
            f"`inputs` tokens + `max_new_tokens` must be <= {max_total_tokens}. "
            f"Given: {input_length} `inputs` tokens and {max_new} `max_new_tokens`"
        )
    if input_length > max_input_tokens:
        raise invalid(
            f"`inputs` must have less than {max_input_tokens} tokens. Given: {input_length}"
        )
    if p.grammar is not None:
        check_grammar(p.grammar)
    seed = (random.getrandbits(63) if p.seed is None else p.seed) if sampling else None
    try:
        params = GenerationParams(
            max_new_tokens=max(max_new, 1),
            temperature=(1.0 if p.temperature is None else p.temperature) if sampling else None,
            top_p=p.top_p if sampling else None,
            top_k=p.top_k if sampling else None,
            repetition_penalty=p.repetition_penalty,
            stop=p.stop,
            seed=seed,
        )
    except InvalidParameterError as exc:
        raise invalid(str(exc)) from exc
    return Plan(inputs, input_length, params, seed, p.grammar)


# -- response bodies ------------------------------------------------------------------------


def sse(payload: Any, *, space: bool = True) -> bytes:
    """One Server-Sent Event: ``data: <compact json>`` and a blank line; TGI <= 2.0 (axum 0.6)
    wrote ``data:<json>``, without the space."""
    data = payload.encode() if isinstance(payload, str) else compact(payload)
    return (b"data: " if space else b"data:") + data + b"\n\n"


def compact(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def token(token_id: int, text: str, *, special: bool = False) -> Json:
    """A generated token. Log-probabilities are not computed: 0.0 stands in for them."""
    return {"id": token_id, "text": text, "logprob": 0.0, "special": special}


def details(finish_reason: str, generated: int, seed: int | None, prefill: list[Json],
            tokens: list[Json]) -> Json:  # fmt: skip
    """Non-stream ``details``; ``prefill`` is empty unless ``decoder_input_details`` was set."""
    head = {"finish_reason": finish_reason, "generated_tokens": generated, "seed": seed}
    return head | {"prefill": prefill, "tokens": tokens}


def prefill(tokens: list[tuple[int, str, int, int]]) -> list[Json]:
    """The prompt's tokens (``decoder_input_details``): the first has no logprob."""
    return [{"id": t[0], "text": t[1], "logprob": 0.0 if n else None} for n, t in enumerate(tokens)]


def stream_event(
    index: int, token: Json, text: str | None = None, details: Json | None = None
) -> Json:
    """A ``/generate_stream`` event: ``generated_text`` and ``details`` are explicit nulls."""
    return {"index": index, "token": token, "generated_text": text, "details": details}


def stream_details(finish_reason: str, generated: int, seed: int | None, input_length: int) -> Json:
    return {"finish_reason": finish_reason, "generated_tokens": generated, "seed": seed} | {
        "input_length": input_length
    }


def chat_finish_reason(finish_reason: str) -> str:
    """The chat API says ``stop`` for ``eos_token``; other reasons are unchanged."""
    return "stop" if finish_reason == "eos_token" else finish_reason


def usage(prompt: int, completion: int) -> Json:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chat(kind: str, model: str, created: int, choices: list[Json]) -> Json:
    return {"object": kind, "id": "", "created": created, "model": model} | {
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
    }


def chat_completion(model: str, created: int, content: str, finish_reason: str, prompt: int,
                    completion: int) -> Json:  # fmt: skip
    message = {"role": "assistant", "content": content}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
    return _chat("chat.completion", model, created, [choice]) | {"usage": usage(prompt, completion)}


def chat_chunk(model: str, created: int, content: str, finish_reason: str | None) -> Json:
    delta = {"role": "assistant", "content": content}
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return _chat("chat.completion.chunk", model, created, [choice]) | {"usage": None}


def chat_usage_chunk(model: str, created: int, prompt: int, completion: int) -> Json:
    return _chat("chat.completion.chunk", model, created, []) | {"usage": usage(prompt, completion)}


def chat_stream_error(message: str, status: int) -> Json:
    return {"error": {"message": message, "http_status_code": status}}


def info(model_id: str, *, max_concurrent_requests: int, max_input_tokens: int,
         max_total_tokens: int) -> Json:  # fmt: skip
    """``GET /info`` with TGI 3.x's field names, in TGI's order."""
    return {
        "model_id": model_id,
        "model_sha": None,
        "model_pipeline_tag": "text-generation",
        "max_concurrent_requests": max_concurrent_requests,
        "max_best_of": MAX_BEST_OF,
        "max_stop_sequences": MAX_STOP_SEQUENCES,
        "max_input_tokens": max_input_tokens,
        "max_total_tokens": max_total_tokens,
        "validation_workers": 2,
        "max_client_batch_size": 4,
        "router": "text-generation-router",
        "version": VERSION,
        "sha": None,
        "docker_label": None,
    }
