"""Bounds on input size, checked before anything is tokenized, sent or parsed.

A prompt longer than any real model's context can only fail, but tokenizing it first can take
gigabytes. So a prompt (``ChatZephyr``, every backend), a line of a prompts file, and a request
body to ``zephyr serve`` are measured first and refused when over their limit.

- Prompts: ``ZEPHYR_MAX_PROMPT_CHARS`` characters (default 1,000,000, about 250,000 tokens: far
  above Zephyr's 32k context and above every common model's).
- Prompts-file lines: ``ZEPHYR_MAX_LINE_BYTES`` bytes (default 8,000,000: a maximal prompt even
  as JSON ``\\uXXXX`` escapes, plus room for a conversation).
- Request bodies to ``zephyr serve``: ``--payload-limit`` bytes (default 2,000,000, TGI's own
  ``--payload-limit``), answered with 413 before the body is read.
"""

from __future__ import annotations

import os

DEFAULT_MAX_PROMPT_CHARS = 1_000_000
DEFAULT_MAX_LINE_BYTES = 8_000_000
DEFAULT_PAYLOAD_LIMIT = 2_000_000  # TGI's --payload-limit default


class InputTooLargeError(ValueError):
    """An input over its size limit, refused before it was tokenized or sent."""


def _setting(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is invalid: expected a positive integer") from None
    if value < 1:
        raise ValueError(f"{name}={raw!r} is invalid: expected a positive integer")
    return value


def max_prompt_chars() -> int:
    return _setting("ZEPHYR_MAX_PROMPT_CHARS", DEFAULT_MAX_PROMPT_CHARS)


def max_line_bytes() -> int:
    return _setting("ZEPHYR_MAX_LINE_BYTES", DEFAULT_MAX_LINE_BYTES)


def check_prompt(prompt: str) -> None:
    """Refuse a prompt over ``max_prompt_chars()`` characters."""
    limit = max_prompt_chars()
    if len(prompt) > limit:
        raise InputTooLargeError(
            f"the prompt is {len(prompt):,} characters, over the limit of {limit:,} "
            "(ZEPHYR_MAX_PROMPT_CHARS); shorten it or raise the limit"
        )
