"""`zephyr binarize`, `zephyr export`, `zephyr report`: preference rows to DPO datasets.

Input: JSON lines of PreferenceRow, or of judged CandidateRow (grouped by prompt). Everything is
read and checked before anything is written, and every output is written all or nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from zephyr_integrations.cli import checks
from zephyr_integrations.cli.common import EXIT_UNAVAILABLE, app, err, fail, failure

if TYPE_CHECKING:
    from zephyr_integrations.preferences.binarize import BinarizeResult

Input = Annotated[
    Path, typer.Argument(help="JSON lines of PreferenceRow, or of CandidateRow with scores.")
]
Strategy = Annotated[
    str, typer.Option(help="zephyr, best_vs_worst, all_pairs, or a plugin's strategy.")
]
MinMargin = Annotated[float, typer.Option(help="Smallest score_chosen - score_rejected kept.")]
Ties = Annotated[str, typer.Option(help="keep or drop pairs of equal scores.")]
Seed = Annotated[int, typer.Option(help="Seed of the per-prompt draws and of the split.")]
MinScore = Annotated[
    float | None,
    typer.Option(help="Lowest valid score for every record (default: each record's own scale)."),
]
MaxScore = Annotated[
    float | None,
    typer.Option(help="Highest valid score for every record (default: each record's own scale)."),
]
Overwrite = Annotated[bool, typer.Option(help="Replace an existing output.")]


def _binarize(
    source: Path,
    strategy: str,
    min_margin: float,
    ties: str,
    seed: int,
    low: float | None,
    high: float | None,
) -> BinarizeResult:
    from zephyr_integrations.plugins import UnknownNameError, get_binarizer
    from zephyr_integrations.preferences.binarize import BinarizeOptions, binarize
    from zephyr_integrations.preferences.reading import InputError, read_preferences

    if (low is None) != (high is None):
        raise fail("--min-score and --max-score go together (without both: each record's scale)")
    score_range = None if low is None or high is None else (low, high)
    try:
        options = BinarizeOptions(strategy, min_margin, ties, seed, score_range)  # type: ignore[arg-type]
        chooser = get_binarizer(strategy)
        rows = read_preferences(source)
        result = binarize(rows, options, strategy=chooser)
    except (InputError, UnknownNameError, ValueError) as exc:
        raise failure(exc) from exc
    dropped = ", ".join(f"{reason} {n}" for reason, n in sorted(result.dropped.items()))
    err.print(
        f"{result.records} records -> {result.pairs.num_rows} pairs"
        f" (dropped: {dropped or 'none'}; unscored answers skipped: {result.unscored_answers})",
        highlight=False,
    )
    for reason, labels in result.examples.items():
        err.print(f"  {reason}: {'; '.join(labels)}", highlight=False, soft_wrap=True)
    return result


@app.command("binarize")
def binarize_command(
    source: Input,
    output: Annotated[Path, typer.Option("--output", "-o", help="Pairs as JSON lines.")],
    strategy: Strategy = "zephyr",
    min_margin: MinMargin = 0.0,
    ties: Ties = "keep",
    seed: Seed = 42,
    min_score: MinScore = None,
    max_score: MaxScore = None,
    overwrite: Overwrite = False,
) -> None:
    """Turn scored answers into chosen/rejected pairs (ultrafeedback_binarized columns).

    Example: zephyr binarize rated.jsonl -o pairs.jsonl --strategy best_vs_worst --min-margin 1
    """

    from zephyr_integrations.preferences.schema import pairs_only

    try:
        checks.output_file(output, "--output", overwrite=overwrite)
    except ValueError as exc:
        raise failure(exc) from exc
    result = _binarize(source, strategy, min_margin, ties, seed, min_score, max_score)
    from zephyr_integrations.jsonl import write_jsonl

    write_jsonl(output, pairs_only(result.pairs).to_pylist())
    err.print(f"wrote {output}", highlight=False)


@app.command("export")
def export_command(
    source: Input,
    output: Annotated[Path, typer.Option("--output", "-o", help="The folder to write.")],
    format: Annotated[
        str, typer.Option(help="hub, trl (TRL's explicit prompt), parquet, jsonl, disk, plugins'.")
    ] = "hub",
    test_size: Annotated[
        float, typer.Option(help="Share of prompts in test_* (by prompt_id hash).")
    ] = 2000 / 63135,
    sft: Annotated[bool, typer.Option(help="Also write train_sft/test_sft.")] = False,
    gen: Annotated[bool, typer.Option(help="Also write train_gen/test_gen.")] = False,
    license: Annotated[str, typer.Option(help="License in the dataset card.")] = "apache-2.0",
    push_to_hub: Annotated[
        str | None, typer.Option(help="Upload the hub folder to this dataset repo (HF_TOKEN).")
    ] = None,
    private: Annotated[bool, typer.Option(help="Create the Hub repo as private.")] = False,
    strategy: Strategy = "zephyr",
    min_margin: MinMargin = 0.0,
    ties: Ties = "keep",
    seed: Seed = 42,
    min_score: MinScore = None,
    max_score: MaxScore = None,
    overwrite: Overwrite = False,
) -> None:
    """Binarize, split by prompt_id, and write a dataset TRL and the alignment handbook read.

    Example: zephyr export rated.jsonl -o ./my-prefs --sft --gen --push-to-hub me/my-prefs
    """
    from zephyr_integrations.plugins import UnknownNameError, get_exporter
    from zephyr_integrations.preferences.dataset_card import Provenance
    from zephyr_integrations.preferences.export import ExportError, export
    from zephyr_integrations.preferences.splits import make_splits

    if push_to_hub and format not in ("hub", "trl"):
        raise fail(f"--push-to-hub uploads a hub folder; drop --format {format} or use hub/trl")
    try:
        writer = get_exporter(format)
        if not 0 <= test_size < 1:
            raise ValueError(f"--test-size {test_size}: must be a fraction in [0, 1)")
        checks.output_folder(output, "--output", overwrite=overwrite)
        if push_to_hub:
            _check_hub_reachable(push_to_hub)
    except (UnknownNameError, ValueError) as exc:
        raise failure(exc) from exc
    result = _binarize(source, strategy, min_margin, ties, seed, min_score, max_score)
    existed = output.exists()
    try:
        splits = make_splits(result.pairs, test_size=test_size, seed=seed, sft=sft, gen=gen)
        about = Provenance.from_result(result, test_size=test_size, license=license)
        export(splits, output, writer, about=about, overwrite=overwrite)
    except (ExportError, UnknownNameError, ValueError, OSError) as exc:
        raise failure(exc) from exc
    counts = ", ".join(f"{name} {t.num_rows}" for name, t in splits.items())
    url = _push(output, push_to_hub, private, fresh=not existed) if push_to_hub else None
    err.print(f"wrote {output} ({format}: {counts})", highlight=False)
    if url:
        err.print(f"uploaded {output} to {url}", highlight=False)


def _check_hub_reachable(repo_id: str) -> None:
    """Before anything is written: a repo id, a token, and not offline (else exit 2 or 3)."""
    from huggingface_hub import constants
    from huggingface_hub.utils._validators import validate_repo_id

    from zephyr_integrations.preferences.hub import hub_token

    try:
        validate_repo_id(repo_id)
    except ValueError as exc:
        raise ValueError(f"--push-to-hub {repo_id!r}: {str(exc).splitlines()[0]}") from None
    flag = os.environ.get("HF_HUB_OFFLINE", "").upper() in {"1", "ON", "YES", "TRUE"}
    if constants.HF_HUB_OFFLINE or flag:
        raise fail(
            "--push-to-hub: the Hugging Face Hub is off (HF_HUB_OFFLINE is set); unset it to "
            "upload, or export without --push-to-hub",
            EXIT_UNAVAILABLE,
        )
    if hub_token() is None:
        raise ValueError(
            "--push-to-hub: no Hugging Face token: set HF_TOKEN or run `hf auth login`"
        )


def _push(folder: Path, repo_id: str, private: bool, *, fresh: bool) -> str:
    """Upload the exported folder; if that fails, a folder this run made is removed (a failed
    run leaves nothing), and the error is one line with exit 3."""
    import shutil

    from zephyr_integrations.cli.errors import describe
    from zephyr_integrations.preferences.hub import push_to_hub

    try:
        return push_to_hub(folder, repo_id, private=private)
    except Exception as exc:  # HubPushError, or the network failing under huggingface_hub
        message, _ = describe(exc)
        if fresh:
            shutil.rmtree(folder, ignore_errors=True)
            raise fail(
                f"{message}; nothing was kept: run the same command again when the Hub is "
                "reachable",
                EXIT_UNAVAILABLE,
            ) from None
        raise fail(
            f"{message}; the export in {folder} is complete, only the upload failed",
            EXIT_UNAVAILABLE,
        ) from None


@app.command("report")
def report_command(
    source: Input,
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for plots + summary.")],
    strategy: Strategy = "zephyr",
    min_margin: MinMargin = 0.0,
    ties: Ties = "keep",
    seed: Seed = 42,
    min_score: MinScore = None,
    max_score: MaxScore = None,
    overwrite: Overwrite = False,
) -> None:
    """Plots and a summary of the pairs: scores, margins, length bias, win rates, agreement.

    Example: zephyr report rated.jsonl -o ./report (then open report/summary.md)
    """
    from zephyr_integrations.preferences.report import write_report

    try:
        checks.output_folder(output, "--output", overwrite=overwrite)
    except ValueError as exc:
        raise failure(exc) from exc
    result = _binarize(source, strategy, min_margin, ties, seed, min_score, max_score)
    try:
        write_report(result, output, overwrite=overwrite)
    except (OSError, ValueError) as exc:
        raise failure(exc) from exc
    summary: Any = (output / "summary.md").read_text(encoding="utf-8").splitlines()[2]
    err.print(f"wrote {output}: {summary}", highlight=False, soft_wrap=True)
