"""`zephyr judge`: AI feedback on the command line, by any registered judge.

The judge is looked up by name (``--judge``, default ``ultrafeedback``) among those registered
through the ``register_judges`` hook, built from ``--model`` and ``--option KEY=VALUE`` pairs,
and run over the candidates (see :mod:`zephyr_integrations.preferences.feedback`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from zephyr_integrations.cli import checks
from zephyr_integrations.cli.common import EXIT_UNAVAILABLE, app, err, fail, failure

if TYPE_CHECKING:
    from zephyr_integrations.preferences.collect import Failure


@app.command()
def judge(
    candidates: Annotated[Path, typer.Argument(help="Candidates from zephyr collect (JSONL).")],
    model: Annotated[
        str,
        typer.Option(
            "--model", "-m", help="The judge's model: KIND:TARGET[,k=v], or what --judge takes."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Judged candidates (JSONL).")],
    judge_name: Annotated[
        str, typer.Option("--judge", help="A registered judge (ultrafeedback, ...).")
    ] = "ultrafeedback",
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-O", help="A judge option KEY=VALUE (e.g. seed=7); repeatable."),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Calls in flight at once.")] = 8,
    max_retries: Annotated[int, typer.Option(min=0, help="Retries of a failed call.")] = 2,
    retry_failed: Annotated[bool, typer.Option(help="Judge earlier failures again.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Score each candidate with a judge (default: UltraFeedback's four aspects, 1-5).

    Judges: ultrafeedback (each answer alone, a rationale per aspect), ultrafeedback-comparative
    (all answers of a prompt side by side, one call per aspect), reward-model (a sequence
    classifier, -m a Hub id or folder), and plugins'. Replies that do not parse are listed and
    kept with score null.

    Example: zephyr judge candidates.jsonl -m tgi:http://127.0.0.1:8080,temperature=0
    --judge ultrafeedback-comparative -O seed=7 -o judged.jsonl
    """
    from zephyr_integrations.plugins import get_judge_factory, judge_factories
    from zephyr_integrations.preferences.checkpoint import CheckpointError
    from zephyr_integrations.preferences.feedback import JudgeError
    from zephyr_integrations.preferences.feedback import judge as run_judge

    partial = output.with_name(output.name + ".partial")
    fresh = not output.exists() and not partial.exists()
    try:
        checks.input_file(candidates)
        checks.output_file(output, "--output")
        factory = get_judge_factory(judge_name)
        options = _options(option or [])
        try:
            chosen = factory(model, **options)
        except TypeError as exc:
            names = ", ".join(sorted(options)) or "none"
            raise ValueError(
                f"--judge {judge_name}: cannot be built with --model {model!r} and options "
                f"{names} ({exc}); registered judges: {', '.join(sorted(judge_factories()))}"
            ) from exc
        report = run_judge(
            candidates,
            chosen,
            output,
            concurrency=concurrency,
            max_retries=max_retries,
            retry_failed=retry_failed,
            progress=progress,
        )
    except (JudgeError, CheckpointError, ValueError) as exc:
        raise failure(exc) from exc
    if not report.rated and report.failures and all(_unreachable(f.error) for f in report.failures):
        if fresh:  # a judge that was never reached leaves nothing behind
            output.unlink(missing_ok=True)
            partial.unlink(missing_ok=True)
        raise fail(f"the judge could not be reached: {report.failures[0]}", EXIT_UNAVAILABLE)
    for duplicate in report.duplicates:
        err.print(f"duplicate candidate: {duplicate} (judged once)", highlight=False)
    err.print(
        f"{report.rated} candidates rated by {report.judge}, {report.resumed} from an earlier "
        f"run, {report.skipped} not judged (flagged), {len(report.failures)} failed "
        f"-> {report.output} ({report.seconds:.1f} s)",
        highlight=False,
    )
    for line in _failure_lines(report.failures)[:10]:
        err.print(f"failed: {line}", highlight=False, soft_wrap=True)
    if report.failures and not report.rated:
        raise fail("no candidate could be rated; fix the judge and rerun with --retry-failed")


def _options(pairs: list[str]) -> dict[str, Any]:
    """``--option KEY=VALUE`` pairs; a value that reads as JSON (7, 0.5, true) is that value."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--option {pair!r}: expected KEY=VALUE")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def _failure_lines(failures: list[Failure]) -> list[str]:
    """One line per failure; answers to one prompt failed with one error (a judge that
    compares fails a whole prompt) share one line."""
    grouped: dict[tuple[str, str], list[Failure]] = {}
    for failed in failures:
        grouped.setdefault((failed.prompt_id, failed.error), []).append(failed)
    lines = []
    for same in grouped.values():
        first = same[0]
        if len(same) == 1:
            lines.append(str(first))
            continue
        where = ", ".join(failed.where for failed in same)
        answers = f"{len(same)} answers to prompt_id {first.prompt_id[:12]}"
        lines.append(f"{where} ({answers}): {first.error}")
    return lines


def _unreachable(error: str) -> bool:
    """Whether a recorded failure says the model's server was not there."""
    from zephyr_integrations.cli.errors import UNAVAILABLE_TYPES

    return any(f"{name}:" in error for name in UNAVAILABLE_TYPES) or "Connection refused" in error
