"""Structured output on OpenAI-compatible servers: each kind's request fields, and the check
that the server honoured them (an unknown field is silently dropped by most servers)."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from zephyr_integrations.backends.base import GenerationParams, Grammar
from zephyr_integrations.backends.remote_options import SERVER_KINDS
from zephyr_integrations.errors import ZephyrResponseError

ServerKind = Literal["vllm", "sglang", "llamacpp", "tgi"]


def structured_output(kind: ServerKind, params: GenerationParams) -> dict[str, Any]:
    """The request fields that constrain decoding on a server of ``kind``."""
    grammar = params.grammar
    assert grammar is not None
    if kind == "vllm":
        key = "json" if grammar.kind == "json" else "regex"
        value: Any = grammar.schema if grammar.kind == "json" else grammar.value
        return {"structured_outputs": {key: value}}
    if kind == "sglang":  # extra parameters of SGLang's completion request
        if grammar.kind == "json":
            return {"json_schema": grammar.value}
        return {"regex": grammar.value}
    if kind == "llamacpp":
        if grammar.kind == "json":
            return {"response_format": {"type": "json_object", "schema": grammar.schema}}
        raise ZephyrResponseError("llama.cpp takes GBNF grammars, not regular expressions")
    value = grammar.schema if grammar.kind == "json" else grammar.value
    return {"response_format": {"type": grammar.kind, "value": value}}


def check_constrained(text: str, grammar: Grammar, url: str, kind: str | None = None) -> None:
    """Refuse an answer that does not follow ``grammar``: the server ignored the constraint
    (an unknown field is silently dropped by most OpenAI-compatible servers)."""
    if grammar.kind == "regex":
        followed = re.fullmatch(grammar.value, text) is not None
    else:
        try:
            value = json.loads(text)
        except ValueError:
            followed = False
        else:
            expected = grammar.schema.get("type")
            followed = (
                expected is None
                or _JSON_TYPES.get(str(expected)) is None
                or (isinstance(value, _JSON_TYPES[str(expected)]))
            )
    if not followed:
        raise ZephyrResponseError(
            f"{url} ignored the structured-output constraint (asked for as a {kind} server; "
            f"the answer does not follow the {grammar.kind} grammar): if the server is another "
            f"kind, set backend_kwargs server_kind ({', '.join(SERVER_KINDS)})",
            url=url,
        )


_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}
