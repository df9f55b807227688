"""AI feedback: a judge scores every candidate answer; the runner around any judge.

The judge is a :class:`~zephyr_integrations.preferences.judging.Judge` (``ultrafeedback``,
``ultrafeedback-comparative``, a reward model, a plugin's) or a plain LangChain chat model, which
is wrapped in the ``ultrafeedback`` judge (one answer per call, UltraFeedback's four aspects).
Each candidate row comes back with ``score`` on the judge's scale, ``ratings`` (aspect ->
``{rating, rationale}``) where the judge gives them, ``judge`` (its name) and ``scale``, ready
for ``from_candidates`` and the Argilla push. A reply that does not parse is not a crash and not
a 0: the row gets ``score=None`` and a ``judge_error`` naming the record and the judge, and the
report lists it. Runs resume like ``collect`` (see
:mod:`~zephyr_integrations.preferences.checkpoint`)::

    report = judge("candidates.jsonl", ChatZephyr(...), "judged.jsonl", concurrency=8)

The runner groups the answers to judge (a judge that compares gets every answer of a prompt in
one group; see :attr:`Judge.compares`), hands ``judge.prompts_per_call`` groups to each call,
keeps ``concurrency`` calls in flight and retries a call that failed on a transient error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from zephyr_integrations.preferences.checkpoint import CheckpointError, CheckpointLog, Row
from zephyr_integrations.preferences.collect import Failure
from zephyr_integrations.preferences.fanout import progress_bar, run_all, with_retries
from zephyr_integrations.preferences.judges.ultrafeedback import (
    UltraFeedbackJudge,
    with_judge_budget,
)
from zephyr_integrations.preferences.judging import Judge, JudgeError, Verdict
from zephyr_integrations.preferences.records import CandidateRow
from zephyr_integrations.preferences.rows import Candidate, CandidateFileError, read_candidates

#: Flags that make a candidate not worth judging (recorded as not judged, with the reason).
SKIPPED_FLAGS = ("empty_response",)

__all__ = [
    "SKIPPED_FLAGS",
    "JudgeError",
    "JudgeReport",
    "ajudge",
    "as_judge",
    "judge",
    "with_judge_budget",
]


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


@dataclass
class _Group:
    """Answers handed to the judge together, and which of them to record."""

    shown: list[Candidate]
    record: list[bool]


def judge(
    candidates: str | Path | Sequence[CandidateRow],
    model: Judge | BaseChatModel,
    output: str | Path,
    **options: Any,
) -> JudgeReport:
    """Synchronous :func:`ajudge`."""
    return asyncio.run(ajudge(candidates, model, output, **options))


def as_judge(model: Judge | BaseChatModel, label: str | None = None) -> Judge:
    """``model`` if it is a Judge; a chat model wrapped in the ``ultrafeedback`` judge."""
    if isinstance(model, BaseChatModel):
        return UltraFeedbackJudge(model, label=label)
    if not isinstance(model, Judge):
        raise JudgeError(
            f"the judge {type(model).__name__} is neither a Judge (name, scale, compares, "
            "prompts_per_call, ajudge) nor a LangChain BaseChatModel"
        )
    if label is not None:
        raise JudgeError(f"label={label!r} names a chat model judge; {model.name} names itself")
    per_call = model.prompts_per_call
    if not isinstance(per_call, int) or isinstance(per_call, bool) or per_call < 1:
        raise JudgeError(f"the judge {model.name}: prompts_per_call={per_call!r} must be >= 1")
    return model


async def ajudge(
    candidates: str | Path | Sequence[CandidateRow],
    model: Judge | BaseChatModel,
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
    """Judge every candidate with ``model`` and write the judged rows to ``output`` (JSON lines).

    ``candidates`` is a JSON-lines file from ``collect`` or the rows themselves; ``model`` a
    :class:`Judge` or a chat model (judged by ``ultrafeedback``, named ``label`` if given).
    Transient errors are retried ``max_retries`` times; a reply that does not parse is recorded
    at once. Rows an earlier run finished are skipped; with ``retry_failed`` its failures are
    judged again. A judge that compares sees every answer of the prompt again, and only the
    answers that needed a verdict are recorded.
    """
    started = time.perf_counter()
    if max_retries < 0:
        raise JudgeError(f"max_retries={max_retries} must be 0 or more")
    rows, duplicates = _load(candidates)
    report = JudgeReport(output=Path(output), duplicates=duplicates)
    if not rows:
        raise JudgeError("no candidates to judge")
    if not report.output.parent.is_dir():
        raise JudgeError(f"{output}: the folder {report.output.parent} does not exist")
    chosen = as_judge(model, label)
    log = CheckpointLog(report.output, _key, fsync_every=fsync_every)
    done = log.open()
    try:
        report.resumed, report.torn_line_dropped = log.resumed, log.torn
        needed = [
            _key(dict(c.row)) not in done
            or (retry_failed and "judge_error" in done[_key(dict(c.row))])
            for c in rows
        ]
        recorded: list[tuple[str, str, int]] = []

        def record(candidate: Candidate, judged: Row) -> None:
            log.append(judged, replace=retry_failed)
            recorded.append(_key(judged))
            error = judged.get("judge_error")
            if error is None:
                report.rated += 1
                return
            row = candidate.row
            failure = Failure(row["prompt_id"], row["model"], row["sample"], candidate.where, error)
            report.failures.append(failure)

        for candidate, need in zip(rows, needed, strict=True):
            flags = [flag for flag in candidate.row.get("flags", []) if flag in SKIPPED_FLAGS]
            if need and flags:
                report.skipped += 1
                reason = f"not judged: flagged {', '.join(flags)}"
                judged = _verdict_row(candidate.row, Verdict(None, error=reason), chosen)
                log.append(judged, replace=retry_failed)
                recorded.append(_key(dict(candidate.row)))
        groups = _groups(rows, needed, compares=bool(chosen.compares))
        batches = [
            groups[start : start + chosen.prompts_per_call]
            for start in range(0, len(groups), chosen.prompts_per_call)
        ]
        total = sum(sum(group.record) for group in groups)
        async with progress_bar("judging", total, enabled=progress) as advance:

            async def work(batch: list[_Group]) -> None:
                shown = [[candidate.row for candidate in group.shown] for group in batch]
                try:
                    verdicts = await with_retries(
                        lambda: chosen.ajudge(shown),
                        max_retries=max_retries,
                        retry_wait=retry_wait,
                    )
                    _check_shape(chosen, shown, verdicts)
                except Exception as exc:  # the call itself failed after its retries
                    verdicts = [
                        [Verdict(None, error=f"call failed: {type(exc).__name__}: {exc}")]
                        * len(answers)
                        for answers in shown
                    ]
                for group, given in zip(batch, verdicts, strict=True):
                    for candidate, verdict, keep in zip(
                        group.shown, given, group.record, strict=True
                    ):
                        if keep:
                            record(candidate, _verdict_row(candidate.row, verdict, chosen))
                            advance()

            await run_all(batches, work, concurrency=concurrency)
        report.judge = chosen.name
        for key in recorded:  # a judge may learn its name from its first reply
            log.rows[key].update(judge=chosen.name, scale=chosen.scale)
        rank = {_key(dict(candidate.row)): index for index, candidate in enumerate(rows)}
        log.finish(order=lambda row: rank.get(_key(row), len(rank)))
    finally:
        log.close()
    report.seconds = time.perf_counter() - started
    return report


# -- internals ---------------------------------------------------------------------------------


def _groups(rows: list[Candidate], needed: list[bool], *, compares: bool) -> list[_Group]:
    """What the judge is shown: each answer alone, or (a judge that compares) every judgeable
    answer of a prompt, for the prompts that have an answer to record."""
    judgeable = [
        (candidate, need)
        for candidate, need in zip(rows, needed, strict=True)
        if not any(flag in SKIPPED_FLAGS for flag in candidate.row.get("flags", []))
    ]
    if not compares:
        return [_Group([candidate], [True]) for candidate, need in judgeable if need]
    by_prompt: dict[str, _Group] = {}
    for candidate, need in judgeable:
        group = by_prompt.setdefault(candidate.row["prompt_id"], _Group([], []))
        group.shown.append(candidate)
        group.record.append(need)
    return [group for group in by_prompt.values() if any(group.record)]


def _check_shape(
    chosen: Judge, shown: list[list[CandidateRow]], verdicts: list[list[Verdict]]
) -> None:
    """A judge that does not give one verdict per answer fails the call (nothing recorded)."""
    if len(verdicts) != len(shown) or any(
        len(given) != len(answers) for given, answers in zip(verdicts, shown, strict=False)
    ):
        counts = [len(given) for given in verdicts]
        raise JudgeError(
            f"judge {chosen.name} returned {counts} verdicts for {[len(a) for a in shown]} "
            "answers (one verdict per answer expected)"
        )


def _verdict_row(row: CandidateRow, verdict: Verdict, chosen: Judge) -> Row:
    """The judged row: the candidate, the verdict, and which judge gave it on what scale."""
    judged: Row = {**_clean(row), "score": verdict.score}
    if verdict.ratings is not None:
        judged["ratings"] = verdict.ratings
    error = verdict.error
    if verdict.score is None and error is None:
        error = f"judge {chosen.name}: no score and no reason given"
    if error is not None:
        judged["score"] = None
        judged.pop("ratings", None)
        judged["judge_error"] = error
    judged["judge"] = chosen.name
    judged["scale"] = chosen.scale
    return judged


def _clean(row: CandidateRow) -> Row:
    """The candidate without the results of an earlier judge."""
    drop = ("ratings", "judge", "score", "scale", "judge_error")
    return {key: value for key, value in row.items() if key not in drop}


def _key(row: Row) -> tuple[str, str, int]:
    return (row["prompt_id"], row["model"], int(row["sample"]))


def _load(candidates: str | Path | Sequence[CandidateRow]) -> tuple[list[Candidate], list[str]]:
    try:
        if isinstance(candidates, str | Path):
            return read_candidates(Path(candidates))
        return read_candidates(candidates)
    except (CheckpointError, CandidateFileError) as exc:
        raise JudgeError(str(exc)) from exc
