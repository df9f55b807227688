"""`zephyr quickstart`: the whole preference loop on embedded defaults, offline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zephyr_integrations.cli.common import EXIT_UNAVAILABLE, app, err, fail

if TYPE_CHECKING:
    from zephyr_integrations.quickstart import QuickstartResult


@app.command()
def quickstart(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for every step.")] = Path(
        "zephyr-quickstart"
    ),
    auto: Annotated[
        bool, typer.Option(help="Let AI feedback answer instead of waiting for annotators.")
    ] = False,
    model: Annotated[
        str | None,
        typer.Option(help="Model folder or Hub id (default: Zephyr if cached, else SmolLM2)."),
    ] = None,
    prompts: Annotated[int, typer.Option(help="How many bundled prompts.")] = 4,
    candidates: Annotated[int, typer.Option(help="Answers per prompt (>= 2).")] = 2,
    max_tokens: Annotated[int, typer.Option(help="Longest answer, in tokens.")] = 48,
    judge: Annotated[
        str, typer.Option(help="The AI feedback's judge (a registered name), on the same model.")
    ] = "ultrafeedback",
    argilla: Annotated[bool, typer.Option(help="Log the records in a local Argilla.")] = True,
    argilla_dir: Annotated[
        Path | None, typer.Option(help="The Argilla stack's data folder (default: annotate up's).")
    ] = None,
    argilla_port: Annotated[int | None, typer.Option(help="argilla-server port.")] = None,
) -> None:
    """Run the loop: candidates, AI feedback, Argilla, pairs, a DPO-ready dataset.

    Without --auto it waits, after logging the records, for you to rate them in the printed
    Argilla URL; press Enter when done. Everything lands in --output; run it again to resume.

    Example: zephyr quickstart --auto -o ./qs, then ./qs/dataset is ready for TRL's DPOTrainer.
    """
    from zephyr_integrations.quickstart import QuickstartOptions, run

    try:
        options = QuickstartOptions(
            output=output,
            model=model,
            prompts=prompts,
            candidates=candidates,
            max_tokens=max_tokens,
            judge=judge,
            auto=auto,
            argilla=argilla,
            argilla_dir=argilla_dir,
            argilla_port=argilla_port,
        )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    try:
        result = run(
            options,
            say=lambda line: err.print(line, highlight=False, soft_wrap=True),
            wait_for_annotators=_wait_for_annotators,
        )
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from exc
    except (OSError, RuntimeError, TimeoutError) as exc:
        raise fail(str(exc), EXIT_UNAVAILABLE) from exc
    _print_summary(result)


def _wait_for_annotators(result: QuickstartResult) -> None:
    from zephyr_integrations.argilla_stack.credentials import load_credentials

    login = load_credentials(result.credentials_file) if result.credentials_file else None
    err.print(f"\nRate the answers in Argilla: [bold]{result.argilla_url}[/bold]")
    if login is not None:
        err.print(
            f"  sign in as [bold]{login.username}[/bold], password in {result.credentials_file}"
        )
    err.print(f"  dataset: {result.argilla_dataset}")
    if not sys.stdin.isatty():
        err.print(
            "(stdin is not a terminal: not waiting; the AI feedback is used where nobody rated)"
        )
        return
    typer.prompt("Press Enter when you have submitted your ratings", default="", show_default=False)


def _print_summary(result: QuickstartResult) -> None:
    typer.echo(f"candidates:  {result.candidates}")
    typer.echo(f"AI feedback: {result.rated}")
    if result.argilla_url:
        typer.echo(f"Argilla:     {result.argilla_url} (dataset {result.argilla_dataset})")
        typer.echo(f"credentials: {result.credentials_file}")
    counts = ", ".join(f"{name} {rows}" for name, rows in result.split_rows.items())
    typer.echo(
        f"dataset:     {result.dataset} ({result.pairs} pairs from {result.source} "
        f"preferences: {counts})"
    )
    typer.echo(f"report:      {result.report}")
