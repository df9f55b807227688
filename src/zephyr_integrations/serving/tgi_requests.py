"""TGI's requests as its router deserializes them (v3.3.x), as pure functions.

A body that does not deserialize into TGI's types is a ``text/plain`` 422 (``Failed to
deserialize the JSON body into the target type: ...``), with serde's wording. Validation of the
values (ranges, lengths) is :mod:`.tgi_validation`'s job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zephyr_integrations.serving.protocol_errors import ProtocolError, failure, undeserializable

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
