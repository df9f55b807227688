"""Pair data -> ``PreferenceRow``s of two answers (the chosen one first).

Two layouts, one reader:

- ``trl``: a TRL preference dataset, ``chosen`` and ``rejected`` with an explicit ``prompt`` or an
  implicit one (the longest common beginning of ``chosen`` and ``rejected``, as TRL's
  ``extract_prompt`` finds it), each either *standard* (strings) or *conversational* (lists of
  ``{role, content}``). ``zephyr export --format trl`` writes this layout.
- ``ultrafeedback_binarized``: HuggingFaceH4/ultrafeedback_binarized's columns (``prompt``,
  ``prompt_id``, conversational ``chosen``/``rejected`` that repeat the prompt, ``messages``,
  ``score_chosen``, ``score_rejected``). ``zephyr export`` (``hub``, ``jsonl``, ``parquet``,
  ``disk``) writes this layout.

The answer a row marks chosen comes first, so ``zephyr binarize`` keeps the pair as it was, even
on a tie. Scores: ``score_chosen``/``score_rejected`` when the data has them, on the range the
user names (``score_range``) or else the range they span in the data (pair data does not say
what its scores mean: ultrafeedback_binarized's are UltraFeedback's 1-10 overall_score, a
``zephyr export`` holds whatever scale it was binarized on); without them, a 0-1 vote (1 for the
chosen answer). A ``prompt_id``
column is kept; without one the id is made as ``zephyr collect`` makes it. Other columns (a
dataset's ``id``, ``source``...) are kept under ``original``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from zephyr_integrations.preferences.prompts import conversation_id
from zephyr_integrations.preferences.records import (
    ChatTurn,
    Completion,
    PreferenceRow,
    ScoreScale,
)
from zephyr_integrations.preferences.sources.base import (
    ImportOptions,
    Source,
    SourceRow,
    SourceRowError,
    conversation,
    extras,
    kind,
    number,
)

VOTE_SCALE = ScoreScale(
    low=0.0,
    high=1.0,
    meaning="1 for the answer the source marked chosen, 0 for the one it marked rejected "
    "(the source gives no scores)",
)
#: HuggingFaceH4/ultrafeedback_binarized's columns.
BINARIZED_COLUMNS = (
    "prompt",
    "prompt_id",
    "chosen",
    "rejected",
    "messages",
    "score_chosen",
    "score_rejected",
)
_USED = (*BINARIZED_COLUMNS, "chosen_model", "rejected_model")


def read_pairs(
    rows: Sequence[SourceRow], options: ImportOptions, *, origin: Literal["ai", "unknown"]
) -> list[dict[str, Any]]:
    """One two-answer PreferenceRow per pair; ``origin`` is each row's ``source``."""
    scored = _scored_scale(rows, options)
    preferences: list[dict[str, Any]] = []
    for where, row in rows:
        messages, chosen, rejected = _split(row, where)
        has_scores = "score_chosen" in row or "score_rejected" in row
        scores = (
            (
                number(row.get("score_chosen"), where, "score_chosen"),
                number(row.get("score_rejected"), where, "score_rejected"),
            )
            if has_scores
            else (1.0, 0.0)
        )
        given_id = row.get("prompt_id")
        if given_id is not None and not isinstance(given_id, str):
            raise SourceRowError(f"{where}: 'prompt_id' must be a string, got {kind(given_id)}")
        prompt = row.get("prompt") if isinstance(row.get("prompt"), str) else None
        users = [turn["content"] for turn in messages if turn["role"] == "user"]
        models = (_model(row, "chosen_model", where), _model(row, "rejected_model", where))
        preference = PreferenceRow(
            prompt_id=given_id or conversation_id(messages),
            prompt=prompt or (users[-1] if users else messages[-1]["content"]),
            messages=messages,
            completions=[
                Completion(model=models[0], response=chosen, score=scores[0]),
                Completion(model=models[1], response=rejected, score=scores[1]),
            ],
            source=origin,
            scale=scored if has_scores else VOTE_SCALE,
        )
        original = extras(row, _USED)
        if original:
            preference["original"] = original
        preferences.append(dict(preference))
    return preferences


def _model(row: Mapping[str, Any], name: str, where: str) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SourceRowError(f"{where}: {name!r} must be a string, got {kind(value)}")
    return value


def _scored_scale(rows: Sequence[SourceRow], options: ImportOptions) -> ScoreScale:
    """The scale of the rows' own scores: the range given, or else the range they span (rounded
    out to whole numbers), since pair data does not say what its scores range over."""
    if options.score_range is not None:
        low, high = options.score_range
        return ScoreScale(
            low=low,
            high=high,
            meaning=f"the source's score_chosen/score_rejected, on the range given to import "
            f"[{low:g}, {high:g}]",
        )
    seen = [
        value
        for where, row in rows
        for name in ("score_chosen", "score_rejected")
        if (value := number(row.get(name), where, name)) is not None and math.isfinite(value)
    ]
    low = math.floor(min(seen, default=0.0))
    high = max(math.ceil(max(seen, default=1.0)), low + 1)
    return ScoreScale(
        low=float(low),
        high=float(high),
        meaning=f"the source's score_chosen/score_rejected; it names no scale, so the range "
        f"they span [{low}, {high}]",
    )


def _split(row: Mapping[str, Any], where: str) -> tuple[list[ChatTurn], str, str]:
    """(the conversation up to the answers, the chosen answer, the rejected answer)."""
    chosen, rejected, prompt = row.get("chosen"), row.get("rejected"), row.get("prompt")
    if isinstance(chosen, str) and isinstance(rejected, str):
        if prompt is None:
            prompt, chosen, rejected = _common_text(chosen, rejected)
            if not prompt.strip():
                raise SourceRowError(
                    f"{where}: 'chosen' and 'rejected' share no beginning, so there is no "
                    "implicit prompt; add a 'prompt' column"
                )
        elif not isinstance(prompt, str):
            raise SourceRowError(
                f"{where}: 'prompt' must be a string like 'chosen' and 'rejected' (standard "
                f"format), got {kind(prompt)}"
            )
        elif not prompt.strip():
            raise SourceRowError(f"{where}: 'prompt' is empty")
        return [ChatTurn(role="user", content=prompt)], chosen, rejected
    if isinstance(chosen, list) and isinstance(rejected, list):
        chosen_turns = conversation(chosen, where, "chosen")
        rejected_turns = conversation(rejected, where, "rejected")
        if isinstance(prompt, list):
            turns = conversation(prompt, where, "prompt")
            return (
                turns,
                _answer(turns, chosen_turns, where, "chosen"),
                _answer(turns, rejected_turns, where, "rejected"),
            )
        if prompt is not None and not isinstance(prompt, str):
            raise SourceRowError(f"{where}: 'prompt' must be a list of turns, got {kind(prompt)}")
        shared = 0
        while (
            shared < min(len(chosen_turns), len(rejected_turns)) - 1
            and chosen_turns[shared] == rejected_turns[shared]
        ):
            shared += 1
        turns = chosen_turns[:shared]
        if not turns:
            raise SourceRowError(
                f"{where}: 'chosen' and 'rejected' share no turn, so there is no implicit "
                "prompt; add a 'prompt' column"
            )
        return (
            turns,
            _answer(turns, chosen_turns, where, "chosen"),
            _answer(turns, rejected_turns, where, "rejected"),
        )
    raise SourceRowError(
        f"{where}: 'chosen' and 'rejected' must both be strings (standard) or both lists of "
        f"turns (conversational), got {kind(chosen)} and {kind(rejected)}"
    )


def _common_text(chosen: str, rejected: str) -> tuple[str, str, str]:
    """TRL's implicit prompt of standard rows: the common beginning (less a trailing space)."""
    shared = 0
    while shared < min(len(chosen), len(rejected)) and chosen[shared] == rejected[shared]:
        shared += 1
    if shared and chosen[shared - 1] == " ":
        shared -= 1
    return chosen[:shared], chosen[shared:], rejected[shared:]


def _answer(prompt: list[ChatTurn], turns: list[ChatTurn], where: str, name: str) -> str:
    """The one assistant turn that answers ``prompt`` (``turns`` may repeat the prompt first)."""
    if len(turns) == len(prompt) + 1 and turns[: len(prompt)] == prompt:
        turns = turns[len(prompt) :]
    if len(turns) != 1 or turns[0]["role"] != "assistant":
        roles = ", ".join(turn["role"] for turn in turns)
        raise SourceRowError(
            f"{where}: {name!r} must end in one assistant turn after the prompt, got turns "
            f"({roles}) after {len(prompt)} prompt turn(s)"
        )
    return turns[0]["content"]


def _read_trl(rows: Sequence[SourceRow], options: ImportOptions) -> list[dict[str, Any]]:
    return read_pairs(rows, options, origin="unknown")


def _read_binarized(rows: Sequence[SourceRow], options: ImportOptions) -> list[dict[str, Any]]:
    return read_pairs(rows, options, origin="ai")


TRL = Source(
    name="trl",
    columns=("chosen", "rejected"),
    yields="preference",
    read=_read_trl,
    takes_score_range=True,
    description="a TRL preference dataset: explicit or implicit prompt, standard or conversational",
)
ULTRAFEEDBACK_BINARIZED = Source(
    name="ultrafeedback_binarized",
    columns=BINARIZED_COLUMNS,
    yields="preference",
    read=_read_binarized,
    takes_score_range=True,
    description="HuggingFaceH4/ultrafeedback_binarized's columns (what zephyr export writes)",
)
