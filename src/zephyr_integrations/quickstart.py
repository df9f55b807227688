"""The whole preference loop on embedded defaults, offline: what `zephyr quickstart` runs.

    prompts (bundled) -> candidates (ChatZephyr, local model) -> AI feedback (the same model as
    judge, constrained to the rating schema) -> Argilla (local stack, records with the AI
    ratings as suggestions) -> [annotators, or --auto: AI feedback answers] -> pairs
    (binarized the Zephyr way) -> a Hub-ready dataset folder and a quality report

Every step writes into one folder and is resumable: run it again and finished work is kept.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from zephyr_integrations.preferences.records import CandidateRow, PreferenceRow, from_candidates

BUNDLED_PROMPTS = "quickstart_prompts.jsonl"
#: Calls in flight at once: the local model's engine batches them between decode steps, so every
#: answer (and every judgement) of the default run shares one batch.
LOCAL_CONCURRENCY = 16
DATASET_NAME = "zephyr-quickstart"


@dataclass(frozen=True)
class QuickstartOptions:
    """What to run. The defaults take a few minutes on a laptop CPU."""

    output: Path = Path("zephyr-quickstart")
    model: str | None = None  # a folder or Hub id; default: Zephyr if cached, else SmolLM2
    prompts: int = 4  # how many of the bundled prompts
    candidates: int = 2  # answers per prompt
    max_tokens: int = 48
    temperature: float = 0.8
    auto: bool = False  # AI feedback answers instead of people
    argilla: bool = True  # log the records in a local Argilla stack
    argilla_dir: Path | None = None  # the stack's data folder (default: `zephyr annotate up`'s)
    argilla_port: int | None = None  # default 6900 (other ports then picked free)
    seed: int = 42
    judge: str = "ultrafeedback"  # a registered judge, built on the same model

    def __post_init__(self) -> None:
        for name in ("prompts", "candidates", "max_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r} is invalid: expected >= 1")
        if self.candidates < 2:
            raise ValueError("candidates must be >= 2: a pair needs two answers to one prompt")
        if not 0 <= self.temperature <= 2:
            raise ValueError(f"temperature={self.temperature!r} is invalid: expected 0..2")


@dataclass
class QuickstartResult:
    """Where everything is."""

    folder: Path
    model: str = ""
    candidates: Path | None = None
    rated: Path | None = None
    argilla_url: str | None = None
    argilla_dataset: str | None = None
    credentials_file: Path | None = None
    dataset: Path | None = None
    report: Path | None = None
    pairs: int = 0
    source: str = "ai"
    split_rows: dict[str, int] = field(default_factory=dict)


Say = Callable[[str], None]
WaitForAnnotators = Callable[[QuickstartResult], None]


def bundled_prompts() -> Path:
    return Path(str(resources.files("zephyr_integrations.data") / BUNDLED_PROMPTS))


def run(
    options: QuickstartOptions,
    *,
    say: Say = print,
    wait_for_annotators: WaitForAnnotators | None = None,
) -> QuickstartResult:
    """Run the loop; ``wait_for_annotators`` is called (unless ``auto``) once records are in
    Argilla, and returns when people are done."""
    from zephyr_integrations import ChatZephyr
    from zephyr_integrations.local_models import default_model
    from zephyr_integrations.plugins import get_judge_factory
    from zephyr_integrations.preferences.collect import Generator, collect
    from zephyr_integrations.preferences.feedback import judge
    from zephyr_integrations.preferences.prompts import read_prompts
    from zephyr_integrations.preferences.rows import read_candidates

    folder = options.output
    result = QuickstartResult(folder=folder, model=options.model or default_model())
    # Built first: a model folder that does not exist is refused before anything is written.
    llm = ChatZephyr(
        model_name=result.model,
        temperature=options.temperature,
        max_new_tokens=options.max_tokens,
        seed=options.seed,
    )
    # No budget of its own: the judge gets the one its rating schema needs (JUDGE_MAX_TOKENS).
    judge_model = ChatZephyr(model_name=result.model, temperature=0)
    rater = get_judge_factory(options.judge)(judge_model, label=Path(result.model).name)
    say(f"model: {result.model}")
    prompts = read_prompts(bundled_prompts()).prompts[: options.prompts]
    folder.mkdir(parents=True, exist_ok=True)
    result.candidates = folder / "candidates.jsonl"
    say(f"collecting {options.candidates} answers to each of {len(prompts)} prompts ...")
    collected = collect(
        prompts,
        [Generator(model=llm, params={"seed": options.seed}, label=Path(result.model).name)],
        result.candidates,
        n=options.candidates,
        concurrency=LOCAL_CONCURRENCY,
    )
    if collected.failures:
        raise RuntimeError(f"collecting failed: {collected.failures[0]}")

    result.rated = folder / "rated.jsonl"
    say(f"rating every answer with the {options.judge} judge (AI feedback) ...")
    judged = judge(result.candidates, rater, result.rated, concurrency=LOCAL_CONCURRENCY)
    rated_rows = [candidate.row for candidate in read_candidates(result.rated)[0]]
    check_feedback(rated_rows, result.model)
    if judged.failures:
        say(f"{len(judged.failures)} judge replies did not parse; those answers stay unscored")

    preference_rows: list[PreferenceRow] = from_candidates(rated_rows)
    if options.argilla:
        _to_argilla(options, result, rated_rows, say)
        if not options.auto and wait_for_annotators is not None:
            wait_for_annotators(result)
            human = _pull(options, result, say)
            if human:
                preference_rows, result.source = human, "human"
            else:
                say("no submitted annotations yet: using the AI feedback instead")

    _export(options, result, preference_rows, say)
    return result


class FeedbackTooSparseError(ValueError):
    """Too few AI ratings parsed to make pairs worth having."""


def check_feedback(rows: list[CandidateRow], model: str) -> None:
    """Refuse to go on when fewer than half the answers got a parsed AI rating."""
    scored = sum(1 for row in rows if row.get("score") is not None)
    if rows and scored * 2 < len(rows):
        raise FeedbackTooSparseError(
            f"AI feedback parsed for only {scored} of {len(rows)} answers from the judge "
            f"{Path(model).name}: too few to make pairs; pass --model a stronger model "
            "(a folder or Hub id), then run again"
        )


def _to_argilla(
    options: QuickstartOptions, result: QuickstartResult, rows: list[CandidateRow], say: Say
) -> None:
    from zephyr_integrations.preferences.argilla.push import push_candidates
    from zephyr_integrations.preferences.argilla.templates import RatingTemplate

    client = _argilla_client(options, result, say)
    template = RatingTemplate.ultrafeedback(responses=options.candidates, shuffle_seed=options.seed)
    pushed = push_candidates(client, rows, dataset=DATASET_NAME, template=template, progress=False)
    result.argilla_dataset = pushed.dataset
    say(f"logged {pushed.records} records in Argilla at {result.argilla_url}")


def _argilla_client(options: QuickstartOptions, result: QuickstartResult, say: Say) -> Any:
    """The Argilla in ARGILLA_API_URL / ARGILLA_API_KEY if set, else the local stack (started)."""
    from zephyr_integrations.argilla_stack import LocalStack
    from zephyr_integrations.argilla_stack.config import ExistingArgilla
    from zephyr_integrations.preferences.argilla.client import connect

    existing = ExistingArgilla.from_env()
    if existing is not None:
        result.argilla_url = existing.api_url
        return connect(existing.api_url, existing.api_key)
    stack = LocalStack(_stack_config(options))
    if not stack.status().running:
        say("starting the local Argilla stack (the first time installs argilla-server) ...")
    connection = stack.up()
    result.argilla_url = connection.api_url
    result.credentials_file = stack.credentials_file
    return connect(connection.api_url, connection.api_key)


def _pull(options: QuickstartOptions, result: QuickstartResult, say: Say) -> list[PreferenceRow]:
    from zephyr_integrations.preferences.argilla.aggregate import aggregate
    from zephyr_integrations.preferences.argilla.pull import pull_dataset

    client = _argilla_client(options, result, say)
    return aggregate(pull_dataset(client, DATASET_NAME)).rows


def _export(
    options: QuickstartOptions, result: QuickstartResult, rows: list[PreferenceRow], say: Say
) -> None:
    from zephyr_integrations.preferences.binarize import BinarizeOptions, binarize
    from zephyr_integrations.preferences.dataset_card import Provenance
    from zephyr_integrations.preferences.export import export
    from zephyr_integrations.preferences.report import write_report
    from zephyr_integrations.preferences.splits import make_splits

    binarized = binarize(rows, BinarizeOptions(seed=options.seed))
    result.pairs = binarized.pairs.num_rows
    test_size = 0.25
    splits = make_splits(binarized.pairs, test_size=test_size, seed=options.seed)
    result.split_rows = {name: table.num_rows for name, table in splits.items()}
    about = Provenance.from_result(binarized, test_size=test_size)
    result.dataset = export(splits, options.output / "dataset", about=about, overwrite=True)
    result.report = write_report(binarized, options.output / "report", overwrite=True)
    dropped = ", ".join(f"{k} {v}" for k, v in sorted(binarized.dropped.items())) or "none"
    say(f"{binarized.records} prompts -> {result.pairs} pairs (dropped: {dropped})")


def _stack_config(options: QuickstartOptions) -> Any:
    """The same stack `zephyr annotate up` runs, unless a folder or port is given."""
    from zephyr_integrations.argilla_stack.config import StackConfig

    overrides: dict[str, object] = {}
    if options.argilla_dir is not None:
        overrides["data_dir"] = options.argilla_dir.resolve()
    if options.argilla_port is not None:
        overrides.update(
            server_port=options.argilla_port, search_port=_free_port(), redis_port=_free_port()
        )
    return StackConfig.from_env(**overrides)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
