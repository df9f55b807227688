"""`zephyr collect`: candidate answers from one or more chat models on the command line.

A model is given as ``KIND:TARGET[,key=value...]`` (see
:mod:`zephyr_integrations.model_spec`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zephyr_integrations.cli import checks
from zephyr_integrations.cli.common import EXIT_UNAVAILABLE, EXIT_USAGE, app, err, fail, failure
from zephyr_integrations.cli.errors import describe
from zephyr_integrations.model_spec import parse_model_spec


@app.command()
def collect(
    prompts: Annotated[Path, typer.Argument(help="Prompts: .jsonl, .csv, .parquet or a folder.")],
    model: Annotated[
        list[str], typer.Option("--model", "-m", help="KIND:TARGET[,key=value...]; repeatable.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Candidates (JSON lines).")],
    n: Annotated[int, typer.Option("-n", min=1, help="Answers per prompt from each model.")] = 1,
    concurrency: Annotated[int, typer.Option(min=1, help="Calls in flight at once.")] = 16,
    max_retries: Annotated[int, typer.Option(min=0, help="Retries of a failed call.")] = 2,
    split: Annotated[str | None, typer.Option(help="Split of a saved DatasetDict.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Collect N candidate answers per prompt from one or more chat models (resumable).

    Example: zephyr collect prompts.jsonl -m tgi:http://127.0.0.1:8080,temperature=0.7 -n 4
    -o candidates.jsonl. Run it again after an interruption: done answers are skipped.
    """
    from zephyr_integrations.preferences.checkpoint import CheckpointError
    from zephyr_integrations.preferences.collect import CollectError, Generator
    from zephyr_integrations.preferences.collect import collect as run_collect
    from zephyr_integrations.preferences.prompts import PromptFileError, read_prompts

    try:
        checks.output_file(output, "--output")
        prompt_set = read_prompts(prompts, split=split)
        generators = []
        for spec in model:
            chat, params, label, count = parse_model_spec(spec)
            generators.append(Generator(chat, params, label=label, n=count))
        report = run_collect(
            prompt_set,
            generators,
            output,
            n=n,
            concurrency=concurrency,
            max_retries=max_retries,
            progress=progress,
        )
    except CollectError as exc:  # a model that cannot be reached is a service problem
        cause = exc.__cause__
        unavailable = cause is not None and describe(cause)[1] == EXIT_UNAVAILABLE
        raise fail(str(exc), EXIT_UNAVAILABLE if unavailable else EXIT_USAGE) from exc
    except (PromptFileError, CheckpointError, ValueError) as exc:
        raise failure(exc) from exc
    for duplicate in report.duplicates:
        err.print(f"duplicate prompt: {duplicate.where} repeats {duplicate.first} (collected once)")
    if report.torn_line_dropped:
        err.print("dropped a torn last line left by an interrupted run")
    flagged = ", ".join(f"{count} {flag}" for flag, count in sorted(report.flagged.items()))
    err.print(
        f"{report.written} candidates written, {report.resumed} from an earlier run"
        + (f"; flagged: {flagged}" if flagged else "")
        + f" -> {report.output} ({report.seconds:.1f} s)",
        highlight=False,
    )
    if report.failures:
        for failed in report.failures[:10]:
            err.print(f"failed: {failed}", highlight=False, soft_wrap=True)
        raise fail(
            f"{len(report.failures)} calls failed after retries; run the same command again "
            "to retry them",
            EXIT_UNAVAILABLE,
        )
