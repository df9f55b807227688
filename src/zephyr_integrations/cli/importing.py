"""`zephyr import`: existing preference data -> the project's stage rows (JSON lines).

The layout is detected from the columns (or named with ``--layout``); everything is read and
checked before the output is written, all at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zephyr_integrations.cli import checks
from zephyr_integrations.cli.common import app, err, fail, failure

_STAGES = {"judged": "judged candidate rows", "preference": "preference rows"}


@app.command("import")
def import_command(
    source: Annotated[
        Path,
        typer.Argument(
            help="JSON lines, Parquet, or a dataset folder (save_to_disk, or a Hub folder "
            "with data/*.parquet)."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The stage rows, as JSON lines.")],
    layout: Annotated[
        str | None,
        typer.Option(
            help="ultrafeedback, ultrafeedback_binarized, trl, or a plugin's "
            "(default: detected from the columns)."
        ),
    ] = None,
    score: Annotated[
        str | None,
        typer.Option(
            help="The score binarizing uses, where the layout offers a choice: overall_score "
            "(as H4 did) or mean (of the aspect ratings, N/A skipped) for ultrafeedback."
        ),
    ] = None,
    split: Annotated[str | None, typer.Option(help="The split of a dataset folder.")] = None,
    min_score: Annotated[
        float | None,
        typer.Option(help="Lowest score of pair data (default: the lowest in the data)."),
    ] = None,
    max_score: Annotated[
        float | None,
        typer.Option(help="Highest score of pair data (default: the highest in the data)."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output.")] = False,
) -> None:
    """Read UltraFeedback, TRL or ultrafeedback_binarized data into rows binarize/annotate read.

    Example: zephyr import UltraFeedback/ -o uf.jsonl --split train --score mean
    """
    from zephyr_integrations.plugins import UnknownNameError, sources
    from zephyr_integrations.preferences.importing import import_file, write_rows
    from zephyr_integrations.preferences.sources import ImportOptions

    if (min_score is None) != (max_score is None):
        raise fail("--min-score and --max-score go together")
    score_range = None if min_score is None or max_score is None else (min_score, max_score)
    try:
        checks.output_file(output, "--output", overwrite=overwrite)
        imported = import_file(
            source,
            split=split,
            layout=layout,
            sources=sources().values(),
            options=ImportOptions(score=score, score_range=score_range),
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        write_rows(imported, output)
    except (UnknownNameError, ValueError, OSError) as exc:
        raise failure(exc) from exc
    chosen = f", score: {imported.options.score}" if imported.options.score else ""
    rows = "1 row" if imported.read == 1 else f"{imported.read} rows"
    err.print(
        f"{source}: {rows} in layout {imported.source.name}{chosen} -> "
        f"{len(imported.rows)} {_STAGES.get(imported.stage, imported.stage)}; wrote {output}",
        highlight=False,
        soft_wrap=True,
    )
