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
