"""Grammars for constrained decoding, compiled with llguidance (no torch here).

A :class:`~zephyr_integrations.backends.base.Grammar` (a JSON schema or a regex) becomes an
llguidance grammar once per distinct grammar (cached), and is checked without a tokenizer, so a
schema that cannot be expressed is refused with llguidance's reason before any generation. JSON
is compiled without optional whitespace: one compact rendering, as few tokens as possible.

llguidance was chosen over xgrammar on measurements (``benchmarks/constrained_decoding.py``).
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Mapping
from typing import Any

from zephyr_integrations.backends.base import Grammar, GrammarError

JSON_OPTIONS: Any = {"whitespace_flexible": False}
"""No optional whitespace between JSON tokens (llguidance's ``JsonCompileOptions``)."""


def grammar_available() -> bool:
    """Whether llguidance (the ``grammar`` extra) is installed."""
    return importlib.util.find_spec("llguidance") is not None


@functools.lru_cache(maxsize=256)
def compile_grammar(grammar: Grammar) -> str:
    """llguidance's grammar text for ``grammar``, checked; cached per grammar."""
    try:
        from llguidance import LLMatcher
    except ImportError as exc:
        raise GrammarError(
            "constrained decoding on this backend needs llguidance: "
            "pip install 'zephyr-integrations[grammar]'"
        ) from exc
    try:
        if grammar.kind == "json":
            text = LLMatcher.grammar_from_json_schema(grammar.value, defaults=JSON_OPTIONS)
        else:
            text = LLMatcher.grammar_from_regex(grammar.value)
    except ValueError as exc:
        raise GrammarError(f"the {grammar.kind} grammar is invalid: {exc}") from exc
    problem = LLMatcher.validate_grammar(text)
    if problem:
        raise GrammarError(f"the {grammar.kind} grammar cannot be compiled: {problem}")
    return text


def check_json_schema(schema: Mapping[str, Any], where: str) -> None:
    """Raise :class:`GrammarError` naming ``where`` if ``schema`` cannot constrain decoding.

    Without llguidance nothing is checked here (a TGI server checks it instead).
    """
    if not grammar_available():
        return
    try:
        compile_grammar(Grammar.json_schema(schema))
    except GrammarError as exc:
        message = f"{where}: its JSON schema cannot be expressed as a grammar: {exc}"
        raise GrammarError(message) from exc


#: Keywords whose value is a map of names to subschemas.
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
#: Keywords whose value is a list of subschemas.
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
#: Keywords whose value is one subschema.
_SCHEMA_ONE = ("items", "additionalItems", "contains", "not", "if", "then", "else")
_COMPOSED = ("anyOf", "oneOf", "allOf")
#: An object that sets one of these already says what other keys it allows.
_OPENNESS = ("additionalProperties", "patternProperties", "unevaluatedProperties")


def close_objects(schema: Any) -> Any:
    """``schema`` with ``additionalProperties: false`` on every object schema that sets none.

    A JSON schema leaves an object open unless it says otherwise, and a constrained weak model
    then keeps inventing keys (often ones copied from the schema it was shown, like
    ``"description"``) until its token budget runs out. Closing objects makes the grammar end
    when the declared properties are written. An object that opens itself explicitly
    (``additionalProperties: true`` or a schema, ``patternProperties``,
    ``unevaluatedProperties``) is left as it is. The members of an ``allOf`` are not closed
    one by one (each would refuse the others' keys), nor are ``anyOf``/``oneOf`` branches
    beside an object's own properties (they only add constraints to it); their own nested
    objects are. An object with no properties of its own whose keys come from its branches
    (``{"properties": {}, "anyOf": [...]}``, the top of a TGI grammar) is left open and its
    branches are closed instead.
    """
    return _close(schema, close_here=True)


def _close(schema: Any, *, close_here: bool) -> Any:
    if isinstance(schema, list):
        return [_close(item, close_here=True) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            closed[key] = {name: _close(sub, close_here=True) for name, sub in value.items()}
        elif key in _SCHEMA_ONE:
            closed[key] = _close(value, close_here=True)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            # Beside an object's own properties, branches only add to it (an intersection).
            partial = key == "allOf" or (_is_object(schema) and bool(schema.get("properties")))
            closed[key] = [_close(member, close_here=not partial) for member in value]
        elif key == "additionalProperties" and isinstance(value, dict):
            closed[key] = _close(value, close_here=True)
        else:
            closed[key] = value
    # An object without properties of its own whose keys come from branches: they close.
    from_branches = not closed.get("properties") and any(key in closed for key in _COMPOSED)
    opened = any(key in closed for key in _OPENNESS)
    if close_here and _is_object(closed) and not from_branches and not opened:
        closed["additionalProperties"] = False
    return closed


def _is_object(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind is None:
        return "properties" in schema
    return kind == "object" or (isinstance(kind, list) and "object" in kind)


def limit_string_lengths(schema: Any, max_length: int) -> Any:
    """``schema`` with ``maxLength: max_length`` on every string schema that sets none.

    Every value it accepts is accepted by ``schema``; it only keeps a weak model from writing
    one string until its token budget runs out.
    """
    if isinstance(schema, list):
        return [limit_string_lengths(item, max_length) for item in schema]
    if not isinstance(schema, dict):
        return schema
    limited = {}
    for key, value in schema.items():
        if key in ("const", "enum", "default", "examples", "required"):
            limited[key] = value
        elif key in ("properties", "$defs", "definitions", "patternProperties"):
            limited[key] = (
                {name: limit_string_lengths(sub, max_length) for name, sub in value.items()}
                if isinstance(value, dict)
                else value
            )
        else:
            limited[key] = limit_string_lengths(value, max_length)
    kind = limited.get("type")
    is_string = kind == "string" or (isinstance(kind, list) and "string" in kind)
    if is_string and not {"maxLength", "enum", "pattern", "format"} & limited.keys():
        limited["maxLength"] = max_length
    return limited


def json_length_bound(schema: Mapping[str, Any]) -> int:
    """The most characters compact JSON matching ``schema`` can take (escapes aside).

    Constrained decoding writes at least one character per token, so this bounds the tokens a
    reply can need: a token budget derived from the schema, not guessed. Raises
    :class:`GrammarError` naming the part that has no bound (an open object, a string without
    ``maxLength``, an array without ``maxItems``, a number without both limits).
    """
    return _length(schema, schema, "#", 0)


def _length(schema: Any, root: Mapping[str, Any], where: str, depth: int) -> int:
    if depth > 64:
        raise GrammarError(f"{where}: the schema nests too deeply to bound")
    if not isinstance(schema, Mapping):
        raise GrammarError(f"{where}: any value is allowed here, so replies have no bound")
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _length(_resolve(ref, root), root, ref, depth + 1)
    if "const" in schema:
        return _dumped(schema["const"])
    if isinstance(schema.get("enum"), list):
        return max(_dumped(value) for value in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return max(
                _length(branch, root, f"{where}/{key}/{i}", depth + 1)
                for i, branch in enumerate(schema[key])
            )
    kinds = schema.get("type", "object" if "properties" in schema else None)
    if isinstance(kinds, list):
        return max(_length({**schema, "type": kind}, root, where, depth) for kind in kinds)
    if kinds == "string":
        if not isinstance(schema.get("maxLength"), int):
            raise GrammarError(f"{where}: a string without maxLength has no bound")
        return int(schema["maxLength"]) + 2
    if kinds == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if not (isinstance(low, int) and isinstance(high, int)):
            raise GrammarError(f"{where}: an integer without minimum and maximum has no bound")
        return max(len(str(low)), len(str(high)))
    if kinds in ("boolean", "null"):
        return 5 if kinds == "boolean" else 4
    if kinds == "array":
        items, most = schema.get("items"), schema.get("maxItems")
        if not isinstance(most, int):
            raise GrammarError(f"{where}: an array without maxItems has no bound")
        each = _length(items, root, f"{where}/items", depth + 1) if most else 0
        return 2 + most * each + max(most - 1, 0)
    if kinds == "object":
        if schema.get("additionalProperties") is not False:
            raise GrammarError(f"{where}: an open object has no bound")
        properties = schema.get("properties") or {}
        members = [
            _dumped(name) + 1 + _length(sub, root, f"{where}/properties/{name}", depth + 1)
            for name, sub in properties.items()
        ]
        return 2 + sum(members) + max(len(members) - 1, 0)
    raise GrammarError(f"{where}: no bound for a schema of type {kinds!r}")


def _resolve(ref: str, root: Mapping[str, Any]) -> Any:
    if not ref.startswith("#/"):
        raise GrammarError(f"{ref}: only local references can be bounded")
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part) if isinstance(target, Mapping) else None
    if target is None:
        raise GrammarError(f"{ref}: the reference names nothing in the schema")
    return target


def _dumped(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
