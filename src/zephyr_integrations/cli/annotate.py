"""`zephyr annotate up|status|down|push|pull`: the local Argilla stack and the round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from zephyr_integrations.cli import checks
from zephyr_integrations.cli.common import EXIT_UNAVAILABLE, app, err, fail, failure
from zephyr_integrations.jsonl import write_jsonl

annotate = typer.Typer(
    help="Human preference annotation on Argilla: a local stack, pushing and pulling.",
    no_args_is_help=True,
)
app.add_typer(annotate, name="annotate")

DataDir = Annotated[Path | None, typer.Option(help="Stack data folder (default .zephyr/argilla).")]
Config = Annotated[
    Path | None, typer.Option(help="Stack configuration (default annotation/local-stack.toml).")
]


def _config(config: Path | None, data_dir: Path | None, **extra: Any) -> Any:
    from zephyr_integrations.argilla_stack import StackConfig

    path = config or Path("annotation/local-stack.toml")
    if config is not None or path.is_file():
        return StackConfig.from_toml(path, data_dir=data_dir, **extra)
    return StackConfig.from_env(data_dir=data_dir, **extra)


@annotate.command()
def up(
    data_dir: DataDir = None,
    config: Config = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="argilla-server port (default 6900).")
    ] = None,
    elasticsearch_url: Annotated[
        str | None, typer.Option(help="Use this Elasticsearch/OpenSearch instead of noida-db.")
    ] = None,
) -> None:
    """Start argilla-server (with its web UI), Redis and a search engine on 127.0.0.1.

    A running stack is reused. With ARGILLA_API_URL and ARGILLA_API_KEY set, nothing is
    started: the existing Argilla is checked and used.

    Example: zephyr annotate up, then open the printed URL and sign in with the printed file's
    credentials.
    """
    from zephyr_integrations.argilla_stack import ExistingArgilla, LocalStack, StackError
    from zephyr_integrations.argilla_stack.config import StackConfigError
    from zephyr_integrations.argilla_stack.server_venv import ServerInstallError
    from zephyr_integrations.preferences.argilla.client import connect

    existing = ExistingArgilla.from_env()
    try:
        if existing is not None:
            connect(existing.api_url, existing.api_key)
            err.print(
                f"using the existing Argilla at [bold]{existing.api_url}[/bold] (ARGILLA_API_URL)"
            )
            return
        stack = LocalStack(
            _config(config, data_dir, server_port=port, elasticsearch_url=elasticsearch_url)
        )
        reused = stack.status().running
        connection = stack.up()
    except StackConfigError as exc:
        raise failure(exc) from exc
    except (StackError, ServerInstallError, OSError, RuntimeError, PermissionError) as exc:
        raise fail(str(exc), EXIT_UNAVAILABLE) from exc
    verb = "already running" if reused else "started"
    err.print(f"Argilla {verb} at [bold]{connection.api_url}[/bold]")
    err.print(f"owner login, password and API key: {stack.credentials_file} (mode 0600)")


@annotate.command()
def status(data_dir: DataDir = None, config: Config = None) -> None:
    """Say whether the local stack runs, and list its processes (exit 3 when it does not).

    Example: zephyr annotate status
    """
    from zephyr_integrations.argilla_stack import LocalStack, StackError

    try:
        stack = LocalStack(_config(config, data_dir))
        state = stack.status()
    except StackError as exc:
        raise fail(str(exc), EXIT_UNAVAILABLE) from exc
    except ValueError as exc:  # a bad configuration or data folder
        raise failure(exc) from exc
    if not state.running:
        raise fail(
            f"the local Argilla stack in {stack.data_dir} is not running (zephyr annotate up)",
            EXIT_UNAVAILABLE,
        )
    typer.echo(f"running at {state.api_url}")
    for record in state.processes:
        typer.echo(f"  {record.name:<15} pid {record.pid}")


@annotate.command()
def down(data_dir: DataDir = None, config: Config = None) -> None:
    """Stop exactly the processes `up` started and clean the server's temporary folder.

    Example: zephyr annotate down
    """
    from zephyr_integrations.argilla_stack import LocalStack, StackError

    try:
        stack = LocalStack(_config(config, data_dir))
        stopped = stack.down()
    except StackError as exc:
        raise fail(str(exc), EXIT_UNAVAILABLE) from exc
    except ValueError as exc:  # a bad configuration or data folder
        raise failure(exc) from exc
    if not stopped:
        raise fail(f"the local Argilla stack in {stack.data_dir} is not running", EXIT_UNAVAILABLE)
    err.print("stopped")


def _client(data_dir: Path | None, config: Path | None) -> Any:
    from zephyr_integrations.argilla_stack import ExistingArgilla, LocalStack
    from zephyr_integrations.preferences.argilla.client import connect

    existing = ExistingArgilla.from_env()
    if existing is not None:
        return connect(existing.api_url, existing.api_key)
    stack = LocalStack(_config(config, data_dir))
    if not stack.status().running:
        raise fail(
            f"the local Argilla stack in {stack.data_dir} is not running (zephyr annotate up)",
            EXIT_UNAVAILABLE,
        )
    connection = stack.connection()
    return connect(connection.api_url, connection.api_key)


@annotate.command()
def push(
    candidates: Annotated[Path, typer.Argument(help="CandidateRow JSON lines.")],
    dataset: Annotated[str, typer.Option(help="Dataset name.")],
    template: Annotated[
        str, typer.Option(help="pairwise, ranking, rating or ultrafeedback.")
    ] = "ranking",
    workspace: Annotated[str | None, typer.Option(help="Workspace (default: your first).")] = None,
    create_workspace: Annotated[
        bool, typer.Option(help="Create --workspace if it does not exist (owners only).")
    ] = False,
    min_submitted: Annotated[int, typer.Option(min=1, help="Annotators per record.")] = 1,
    seed: Annotated[int, typer.Option(help="Seeds the per-record answer order.")] = 0,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Log candidates (grouped by prompt_id) as records; pushing again adds no duplicates.

    An unknown --workspace is refused (a typo never makes a new one) unless --create-workspace.

    Example: zephyr annotate push candidates.jsonl --dataset uf-rank --template ranking
    """
    from zephyr_integrations.preferences.argilla.client import (
        ArgillaAuthError,
        ArgillaUnavailableError,
    )
    from zephyr_integrations.preferences.argilla.layout import RecordError, group_candidates
    from zephyr_integrations.preferences.argilla.push import DatasetConflictError, push_candidates

    try:
        checks.argilla_name(dataset, "--dataset")
        checks.argilla_name(workspace, "--workspace")
        _template(template, 2, min_submitted, seed)  # the name and options, before any reading
    except ValueError as exc:
        raise failure(exc) from exc
    rows = _read_jsonl(candidates)
    try:
        sizes = {len(g.candidates) for g in group_candidates(rows)}
        tpl = _template(template, max(sizes) if sizes else 2, min_submitted, seed)
        client = _client(data_dir, config)
        result = push_candidates(
            client,
            rows,
            dataset=dataset,
            template=tpl,
            workspace=workspace,
            create_workspace=create_workspace,
        )
    except (RecordError, DatasetConflictError, ValueError, LookupError) as exc:
        raise failure(exc) from exc
    except (ArgillaUnavailableError, ArgillaAuthError) as exc:
        raise fail(str(exc), EXIT_UNAVAILABLE) from exc
    err.print(
        f"{result.records} records in {result.workspace}/{result.dataset}: "
        f"{result.created} new, {result.updated} already there"
    )


@annotate.command()
def pull(
    dataset: Annotated[str, typer.Option(help="Dataset name.")],
    out: Annotated[Path, typer.Option(help="PreferenceRow JSON lines to write.")],
    workspace: Annotated[str | None, typer.Option(help="Workspace.")] = None,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Aggregate submitted answers into PreferenceRows (source "human") for binarizing.

    Example: zephyr annotate pull --dataset uf-rank --out human.jsonl
    """
    from zephyr_integrations.preferences.argilla.aggregate import aggregate
    from zephyr_integrations.preferences.argilla.client import (
        ArgillaAuthError,
        ArgillaUnavailableError,
    )
    from zephyr_integrations.preferences.argilla.pull import pull_dataset

    try:
        checks.argilla_name(dataset, "--dataset")
        checks.argilla_name(workspace, "--workspace")
        checks.output_file(out, "--out")
    except ValueError as exc:
        raise failure(exc) from exc
    try:
        report = aggregate(pull_dataset(_client(data_dir, config), dataset, workspace))
    except (ValueError, LookupError) as exc:
        raise failure(exc) from exc
    except (ArgillaUnavailableError, ArgillaAuthError) as exc:
        raise fail(str(exc), EXIT_UNAVAILABLE) from exc
    write_jsonl(out, report.rows)
    alpha = "undefined" if report.alpha is None else f"{report.alpha:.3f}"
    err.print(
        f"{len(report.rows)} prompts with submitted answers of {report.records} "
        f"({report.records_without_submissions} without); Krippendorff's alpha {alpha}"
    )
    for user, counts in sorted(report.per_annotator.items()):
        err.print(f"  {user}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _template(name: str, n: int, min_submitted: int, seed: int) -> Any:
    from zephyr_integrations.preferences.argilla.templates import (
        PairwiseTemplate,
        RankingTemplate,
        RatingTemplate,
    )

    common: dict[str, Any] = {"min_submitted": min_submitted, "shuffle_seed": seed}
    if name == "pairwise":
        return PairwiseTemplate(**common)
    if name == "ranking":
        return RankingTemplate(responses=n, **common)
    if name == "rating":
        return RatingTemplate(responses=n, **common)
    if name == "ultrafeedback":
        return RatingTemplate.ultrafeedback(n, **common)
    raise ValueError(
        f"--template: unknown template {name!r} (pairwise, ranking, rating, ultrafeedback)"
    )


def _read_jsonl(path: Path) -> list[Any]:
    from zephyr_integrations.jsonl import RowFileError, read_jsonl

    try:
        return [row for _, row in read_jsonl(path)]
    except RowFileError as exc:
        raise fail(str(exc)) from exc
