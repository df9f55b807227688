"""AI feedback: a judge chat model rates each candidate on UltraFeedback's four aspects.

The judge is any LangChain chat model whose ``with_structured_output`` accepts a Pydantic schema
(:class:`~zephyr_integrations.preferences.rubric.UltraFeedbackRatings`). Each candidate row comes
back with ``ratings`` (aspect -> ``{rating, rationale}``), ``judge`` and ``score`` (the mean of the
four ratings, as in Argilla's corrected UltraFeedback), ready for ``from_candidates`` and the
Argilla push. A reply that does not parse is not a crash and not a 0: the row gets
``score=None`` and a ``judge_error`` naming the record and the judge, and the report lists it.
Runs resume like ``collect`` (see :mod:`~zephyr_integrations.preferences.checkpoint`)::

    report = judge("candidates.jsonl", ChatZephyr(...), "judged.jsonl", concurrency=8)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable
from pydantic import ValidationError

from zephyr_integrations.jsonl import RowFileError
from zephyr_integrations.preferences.checkpoint import CheckpointError, CheckpointLog, Row
from zephyr_integrations.preferences.collect import Failure, model_name
from zephyr_integrations.preferences.fanout import progress_bar, run_all, with_retries
from zephyr_integrations.preferences.records import CandidateRow, mean_rating
from zephyr_integrations.preferences.rows import Candidate, CandidateFileError, read_candidates
from zephyr_integrations.preferences.rubric import (
    JUDGE_MAX_TOKENS,
    UltraFeedbackRatings,
    judge_messages,
)

#: Flags that make a candidate not worth judging (recorded as not judged, with the reason).
SKIPPED_FLAGS = ("empty_response",)


@dataclass
class JudgeReport:
    """What a judging run did: rows rated now, rows found from an earlier run, failures."""

    output: Path
    judge: str | None = None
    rated: int = 0
    resumed: int = 0
    failures: list[Failure] = field(default_factory=list)
    skipped: int = 0
    duplicates: list[str] = field(default_factory=list)
    torn_line_dropped: bool = False
    seconds: float = 0.0


class JudgeError(ValueError):
    """Judging cannot start: an unusable judge, input or output."""


def judge(
    candidates: str | Path | Sequence[CandidateRow],
    model: BaseChatModel,
    output: str | Path,
    **options: Any,
) -> JudgeReport:
    """Synchronous :func:`ajudge`."""
    return asyncio.run(ajudge(candidates, model, output, **options))


async def ajudge(
    candidates: str | Path | Sequence[CandidateRow],
    model: BaseChatModel,
    output: str | Path,
    *,
    label: str | None = None,
    concurrency: int = 8,
    max_retries: int = 2,
    retry_wait: float = 0.5,
    retry_failed: bool = False,
    progress: bool = False,
    fsync_every: int = 64,
) -> JudgeReport:
    """Rate every candidate with ``model`` and write the rated rows to ``output`` (JSON lines).

    ``candidates`` is a JSON-lines file from ``collect`` or the rows themselves. Transient errors
    are retried ``max_retries`` times; a reply that does not parse is recorded at once. Rows an
    earlier run finished are skipped; with ``retry_failed`` its failures are judged again.
    """
    started = time.perf_counter()
    if max_retries < 0:
        raise JudgeError(f"max_retries={max_retries} must be 0 or more")
    rows, duplicates = _load(candidates)
    report = JudgeReport(output=Path(output), judge=label, duplicates=duplicates)
    if not rows:
        raise JudgeError("no candidates to judge")
    if not report.output.parent.is_dir():
        raise JudgeError(f"{output}: the folder {report.output.parent} does not exist")
    structured = _structured(model)
    log = CheckpointLog(report.output, _key, fsync_every=fsync_every)
    done = log.open()
    try:
        report.resumed, report.torn_line_dropped = log.resumed, log.torn
        pending = [
            candidate
            for candidate in rows
            if _key(dict(candidate.row)) not in done
            or (retry_failed and "judge_error" in done[_key(dict(candidate.row))])
        ]

        def record(candidate: Candidate, judged: Row, error: str | None) -> None:
            log.append(judged, replace=retry_failed)
            if error is None:
                report.rated += 1
                return
            row = candidate.row
            failure = Failure(row["prompt_id"], row["model"], row["sample"], candidate.where, error)
            report.failures.append(failure)

        async def work(candidate: Candidate) -> None:
            row = candidate.row
            flags = [flag for flag in row.get("flags", []) if flag in SKIPPED_FLAGS]
            if flags:
                report.skipped += 1
                reason = f"not judged: flagged {', '.join(flags)}"
                log.append(_failed(row, report.judge, reason), replace=retry_failed)
                return
            messages = judge_messages(row["messages"], row["response"])
            try:
                reply = await with_retries(
                    lambda: structured.ainvoke(messages),
                    max_retries=max_retries,
                    retry_wait=retry_wait,
                )
            except Exception as exc:  # the call itself failed after its retries
                judged = _failed(row, report.judge, f"call failed: {type(exc).__name__}: {exc}")
                record(candidate, judged, judged["judge_error"])
                return
            ratings, raw, error = _parse(reply)
            if report.judge is None and raw is not None:
                report.judge = model_name(raw, model)
            name = report.judge or type(model).__name__
            if ratings is None:
                judged = _failed(row, name, f"judge {name}: the reply did not parse: {error}")
                record(candidate, judged, judged["judge_error"])
                return
            stored = ratings.ratings()
            judged = {**_clean(row), "ratings": stored, "judge": name}
            judged["score"] = mean_rating(stored)
            record(candidate, judged, None)

        async with progress_bar("judging", len(pending), enabled=progress) as advance:
            await run_all(pending, work, concurrency=concurrency, on_done=advance)
        if report.judge is not None:  # rows logged before the judge's name was known
            for logged in log.rows.values():
                logged.setdefault("judge", report.judge)
        rank = {_key(dict(candidate.row)): index for index, candidate in enumerate(rows)}
        log.finish(order=lambda row: rank.get(_key(row), len(rank)))
    finally:
        log.close()
    report.seconds = time.perf_counter() - started
    return report


# -- internals ---------------------------------------------------------------------------------


def _structured(model: BaseChatModel) -> Runnable[Any, Any]:
    if not isinstance(model, BaseChatModel):
        raise JudgeError(f"the judge {type(model).__name__} is not a LangChain BaseChatModel")
    model = with_judge_budget(model)
    try:
        return model.with_structured_output(UltraFeedbackRatings, include_raw=True)
    except NotImplementedError as exc:
        raise JudgeError(
            f"the judge {type(model).__name__} does not support with_structured_output"
        ) from exc


def with_judge_budget(model: BaseChatModel) -> BaseChatModel:
    """A ChatZephyr judge with no token budget of its own gets the one the rating schema needs
    (:data:`~zephyr_integrations.preferences.rubric.JUDGE_MAX_TOKENS`); any other model, or one
    with a budget, is used as given."""
    from zephyr_integrations.chat_model import ChatZephyr

    if isinstance(model, ChatZephyr) and model.max_tokens is None:
        return model.model_copy(update={"max_tokens": JUDGE_MAX_TOKENS})
    return model


def _parse(reply: Any) -> tuple[UltraFeedbackRatings | None, AIMessage | None, str]:
    """(ratings, raw message, why not) from what ``with_structured_output`` returned."""
    raw: AIMessage | None = None
    parsed: Any = reply
    error: Any = None
    if isinstance(reply, dict) and "raw" in reply:
        raw = reply["raw"] if isinstance(reply.get("raw"), AIMessage) else None
        parsed, error = reply.get("parsed"), reply.get("parsing_error")
    if isinstance(parsed, dict):
        try:
            parsed = UltraFeedbackRatings.model_validate(parsed)
        except ValidationError as exc:
            parsed, error = None, exc
    if isinstance(parsed, UltraFeedbackRatings):
        return parsed, raw, ""
    reason = _describe(error)
    if raw is not None and raw.text and raw.text[:40] not in reason:
        reason += f" (reply began: {raw.text[:120]!r})"
    return None, raw, reason


def _describe(error: object) -> str:
    """One short line for a parse failure: each invalid field with what was wrong."""
    if error is None:
        return "no structured answer in the reply"
    found = error if isinstance(error, ValidationError) else None
    cause = getattr(error, "__cause__", None)
    if found is None and isinstance(cause, ValidationError):
        found = cause
    if found is not None:
        problems = [
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            + (f" (got {item['input']!r})" if "input" in item and item["type"] != "missing" else "")
            for item in found.errors()[:4]
        ]
        return "; ".join(problems)
    return " ".join(str(error).split())[:300]


def _failed(row: CandidateRow, judge_name: str | None, error: str) -> Row:
    failed: Row = {**_clean(row), "score": None, "judge_error": error}
    if judge_name is not None:
        failed["judge"] = judge_name
    return failed


def _clean(row: CandidateRow) -> Row:
    """The candidate without the results of an earlier judge."""
    drop = ("ratings", "judge", "score", "judge_error")
    return {key: value for key, value in row.items() if key not in drop}


def _key(row: Row) -> tuple[str, str, int]:
    return (row["prompt_id"], row["model"], int(row["sample"]))


def _load(candidates: str | Path | Sequence[CandidateRow]) -> tuple[list[Candidate], list[str]]:
    try:
        if isinstance(candidates, str | Path):
            return read_candidates(Path(candidates))
        return read_candidates(candidates)
    except (CheckpointError, CandidateFileError, RowFileError) as exc:
        raise JudgeError(str(exc)) from exc
