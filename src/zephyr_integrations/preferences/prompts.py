"""Reading prompts: JSON lines, CSV, Parquet, a `save_to_disk` folder or a Hub dataset folder
(the formats :mod:`zephyr_integrations.preferences.tables` reads).

Each row has a ``prompt`` string or a ``messages`` list of ``{role, content}`` turns (as in
ultrafeedback_binarized). With ``messages``, the conversation is cut after its last user turn
(so a ``messages`` column holding the chosen answer is read as its prompt), and the prompt is that
turn's text. Every row is checked before anything is generated: a row without a prompt, with a
prompt of the wrong type, or a file that cannot be read raises :class:`PromptFileError` naming the
file and line (or row). Prompts are identified as ultrafeedback_binarized does (``prompt_id`` =
SHA-256 of the prompt; a longer conversation by all of its turns, see :func:`conversation_id`); a
repeated conversation is reported and kept once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from zephyr_integrations.limits import max_prompt_chars
from zephyr_integrations.preferences.records import ChatTurn, prompt_id
from zephyr_integrations.preferences.tables import TableFileError, Unreadable, table_rows

#: How many problems one error message lists before summarising the rest.
MAX_LISTED = 10


@dataclass(frozen=True)
class Prompt:
    """One prompt to answer: its id, its text, the conversation, and where it was read."""

    prompt_id: str
    prompt: str
    messages: list[ChatTurn]
    where: str  # "prompts.jsonl:12" (file and line) or "prompts.parquet row 3"


@dataclass(frozen=True)
class Duplicate:
    """A prompt seen again: ``where`` repeats ``first``, and only ``first`` is collected."""

    prompt_id: str
    where: str
    first: str


@dataclass(frozen=True)
class PromptSet:
    """The distinct prompts of a file, in file order, and the repeats that were dropped."""

    source: Path
    prompts: list[Prompt]
    duplicates: list[Duplicate] = field(default_factory=list)


class PromptFileError(ValueError):
    """A prompt file that cannot be used; ``problems`` lists each as "file:line: what"."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:MAX_LISTED])
        more = len(problems) - MAX_LISTED
        super().__init__(shown + (f"; and {more} more" if more > 0 else ""))


def read_prompts(path: str | Path, *, split: str | None = None) -> PromptSet:
    """Read and check every prompt of ``path`` (.jsonl/.json, .csv, .parquet, or a folder).

    ``split`` picks the split of a dataset folder.
    """
    source = Path(path)
    problems: list[str] = []
    prompts: list[Prompt] = []
    duplicates: list[Duplicate] = []
    seen: dict[str, str] = {}
    for where, row in _rows(source, split):
        if isinstance(row, Unreadable):
            problems.append(row.message)
            continue
        try:
            prompt = parse_row(row, where)
        except ValueError as exc:
            problems.append(str(exc))
            continue
        first = seen.get(prompt.prompt_id)
        if first is not None:
            duplicates.append(Duplicate(prompt.prompt_id, where, first))
            continue
        seen[prompt.prompt_id] = where
        prompts.append(prompt)
    if problems:
        raise PromptFileError(problems)
    if not prompts:
        raise PromptFileError([f"{source}: no prompts (the file has no rows)"])
    return PromptSet(source, prompts, duplicates)


def conversation_id(turns: list[ChatTurn]) -> str:
    """The ``prompt_id`` of a conversation, which tells any two different conversations apart.

    A single user turn gets ultrafeedback_binarized's id (SHA-256 of the prompt); a longer
    conversation (a system turn, earlier turns) the SHA-256 of all its turns, so conversations
    that share their last question but differ anywhere else are two prompts, not a duplicate.
    """
    if len(turns) == 1 and turns[0]["role"] == "user":
        return prompt_id(turns[0]["content"])
    canonical = json.dumps(
        [[turn["role"], turn["content"]] for turn in turns],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_row(row: object, where: str) -> Prompt:
    """One row -> a :class:`Prompt`; ``ValueError`` naming ``where`` and the field if unusable."""
    if not isinstance(row, Mapping):
        raise ValueError(f"{where}: expected an object with a prompt, got {_kind(row)}")
    messages = row.get("messages")
    if messages is not None:
        turns = _conversation(messages, where)
        _check_size(sum(len(turn["content"]) for turn in turns), where)
        return Prompt(conversation_id(turns), turns[-1]["content"], turns, where)
    if "prompt" not in row:
        columns = ", ".join(sorted(str(key) for key in row)) or "none"
        raise ValueError(f"{where}: no 'prompt' or 'messages' field (fields: {columns})")
    text = row["prompt"]
    if not isinstance(text, str):
        raise ValueError(f"{where}: 'prompt' must be a string, got {_kind(text)}")
    _check_size(len(text), where)
    if not text.strip():
        raise ValueError(f"{where}: 'prompt' is empty")
    return Prompt(prompt_id(text), text, [ChatTurn(role="user", content=text)], where)


def _check_size(chars: int, where: str) -> None:
    limit = max_prompt_chars()
    if chars > limit:
        raise ValueError(
            f"{where}: the prompt is {chars:,} characters, over the limit of {limit:,} "
            "(ZEPHYR_MAX_PROMPT_CHARS)"
        )


def _conversation(messages: object, where: str) -> list[ChatTurn]:
    """The turns up to and including the last user turn, each checked."""
    if not isinstance(messages, list):
        raise ValueError(f"{where}: 'messages' must be a list of turns, got {_kind(messages)}")
    turns: list[ChatTurn] = []
    for index, turn in enumerate(messages):
        if not isinstance(turn, Mapping):
            raise ValueError(f"{where}: messages[{index}] must be an object, got {_kind(turn)}")
        role, content = turn.get("role"), turn.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            raise ValueError(
                f"{where}: messages[{index}] needs string 'role' and 'content', got "
                f"role {_kind(role)} and content {_kind(content)}"
            )
        turns.append(ChatTurn(role=role, content=content))
    last_user = max((i for i, turn in enumerate(turns) if turn["role"] == "user"), default=None)
    if last_user is None:
        raise ValueError(f"{where}: 'messages' has no user turn to answer")
    if not turns[last_user]["content"].strip():
        raise ValueError(f"{where}: the last user turn of 'messages' is empty")
    return turns[: last_user + 1]


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _rows(source: Path, split: str | None) -> Iterator[tuple[str, object]]:
    try:
        yield from table_rows(source, split)
    except TableFileError as exc:
        raise PromptFileError([str(exc)]) from exc
