"""The options a ChatZephyr call accepts, checked where they are given (``bind``, ``invoke``).

OpenAI-style options LangChain code passes around are either honoured or refused with the
reason, so that nothing is accepted by ``bind``/``bind_tools`` and then fails at ``invoke``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SAMPLING = frozenset(
    {
        "temperature",
        "max_tokens",
        "max_new_tokens",
        "max_completion_tokens",
        "top_p",
        "top_k",
        "repetition_penalty",
        "seed",
        "timeout",
    }
)
"""Per-call sampling options (``max_new_tokens`` and ``max_completion_tokens`` are aliases of
``max_tokens``)."""

BOUND = frozenset({"tools", "tool_choice", "response_format", "strict", "parallel_tool_calls"})
"""Options that shape the reply: tools, the JSON it must be, one call or several."""

MAX_TOKENS_ALIASES = ("max_new_tokens", "max_completion_tokens")

REFUSED: Mapping[str, str] = {
    "logprobs": "token log-probabilities are not reported",
    "top_logprobs": "token log-probabilities are not reported",
    "n": "one reply is generated per call; use batch() for several",
    "best_of": "one reply is generated per call; use batch() for several",
    "logit_bias": "logit biases are not supported",
    "presence_penalty": "use repetition_penalty",
    "frequency_penalty": "use repetition_penalty",
    "reasoning_effort": "Zephyr has no reasoning mode",
    "reasoning": "Zephyr has no reasoning mode",
    "modalities": "Zephyr reads and writes text only",
    "audio": "Zephyr reads and writes text only",
    "prediction": "predicted outputs are not supported",
    "service_tier": "there are no service tiers",
    "store": "replies are not stored",
    "user": "there is no end-user field",
    "metadata": "pass metadata in the run config instead",
    "model": "a per-call model override is not supported: construct another ChatZephyr "
    "(models are loaded once and shared, so this is cheap)",
}


def check_call_options(options: Mapping[str, Any]) -> None:
    """Raise ``TypeError`` for an option ChatZephyr cannot honour, naming it and why."""
    unknown = []
    for name in options:
        if name in SAMPLING or name in BOUND or name == "stop" or name.startswith("ls_"):
            continue
        if name in REFUSED:
            raise TypeError(f"{name} is not supported by ChatZephyr: {REFUSED[name]}")
        unknown.append(name)
    if unknown:
        raise TypeError(
            f"unknown generation parameter(s) {sorted(unknown)}; ChatZephyr accepts "
            f"{sorted(SAMPLING)}, stop and {sorted(BOUND)}"
        )
    parallel = options.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise TypeError(f"parallel_tool_calls={parallel!r} is invalid: expected True or False")
    strict = options.get("strict")
    if strict is not None and not isinstance(strict, bool):
        raise TypeError(f"strict={strict!r} is invalid: expected True or False")


def sampling_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The sampling options among ``options``, with ``max_tokens``'s aliases folded in."""
    chosen = {key: value for key, value in options.items() if key in SAMPLING}
    for alias in MAX_TOKENS_ALIASES:
        if alias in chosen:
            chosen["max_tokens"] = chosen.pop(alias)
    return chosen
