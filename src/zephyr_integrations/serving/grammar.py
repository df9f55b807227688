"""TGI's ``grammar`` parameter in the TGI-protocol server: checked as TGI checks it, then
handed to the backend as :attr:`GenerationParams.grammar <zephyr_integrations.backends.base.
GenerationParams.grammar>` (constrained decoding is the backend's job).

A backend without ``supports_grammar`` gets TGI's 422 for a server that cannot constrain
decoding. So does the chat route's tool grammar (TGI's internal ``$functions`` references):
tool calling on ``/v1/chat/completions`` is not served here; send the rendered prompt with a
``json`` grammar to the native routes instead (as ``ChatZephyr`` does).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from zephyr_integrations.backends.base import Grammar, GrammarError
from zephyr_integrations.backends.grammar import compile_grammar, grammar_available
from zephyr_integrations.serving.protocol_errors import invalid
from zephyr_integrations.serving.tgi_requests import Grammar as TGIGrammar
from zephyr_integrations.serving.tgi_validation import Plan, grammar_schema

UNSUPPORTED = "grammar is not supported by this backend yet"


def constrain(backend: Any, plan: Plan) -> Plan:
    """``plan`` with its (already TGI-validated) grammar as the backend's constraint, or 422."""
    if plan.grammar is None:
        return plan
    if not getattr(backend, "supports_grammar", False) or _is_tool_grammar(plan.grammar.value):
        raise invalid(UNSUPPORTED)
    grammar = to_grammar(plan.grammar)
    if grammar_available():
        try:
            compile_grammar(grammar)
        except GrammarError as exc:
            raise invalid(f"grammar is not valid: {exc}") from exc
    return dataclasses.replace(plan, params=dataclasses.replace(plan.params, grammar=grammar))


def to_grammar(grammar: TGIGrammar) -> Grammar:
    """TGI's grammar (a schema as an object or JSON text, or a regex) as the backend's."""
    if grammar.kind == "regex":
        return Grammar("regex", str(grammar.value))
    return Grammar.json_schema(grammar_schema(grammar))


def _is_tool_grammar(value: Any) -> bool:
    return "$functions" in json.dumps(value) if isinstance(value, dict) else False
