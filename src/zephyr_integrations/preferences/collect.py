"""Collecting candidate answers: N answers per prompt from each of one or more chat models.

Any LangChain chat model can answer (``ChatZephyr`` on either backend, or another provider's);
each is a :class:`Generator` with its own sampling parameters, passed to ``ainvoke``. Calls run
concurrently under one limit, are retried on transient errors, and each answer is logged as a
:class:`~zephyr_integrations.preferences.records.CandidateRow` the moment it completes, so a
killed run started again skips what was done (see
:mod:`~zephyr_integrations.preferences.checkpoint`)::

    report = collect(read_prompts("prompts.jsonl"), [Generator(llm, {"temperature": 0.7})],
                     "candidates.jsonl", n=4, concurrency=32)

The output is JSON lines (``datasets.load_dataset("json", data_files=...)`` reads it), one row
per (``prompt_id``, ``model``, ``sample``), ordered by prompt, model and sample.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, convert_to_messages

from zephyr_integrations.backends.base import MAX_CANDIDATES
from zephyr_integrations.preferences.checkpoint import CheckpointLog, Row
from zephyr_integrations.preferences.fanout import progress_bar, run_all, with_retries
from zephyr_integrations.preferences.prompts import Duplicate, Prompt, PromptSet
from zephyr_integrations.preferences.records import CandidateRow, ChatTurn, Usage

#: Provider finish reasons, in the words ultrafeedback-style data uses ("stop" or "length").
_FINISH_REASONS = {
    "stop": "stop",
    "eos_token": "stop",
    "stop_sequence": "stop",
    "end_turn": "stop",
    "length": "length",
    "max_tokens": "length",
}


@dataclass(frozen=True)
class Generator:
    """A chat model that writes candidates, with the sampling parameters for its calls.

    ``params`` go to ``model.ainvoke(messages, **params)`` and onto each row; a ``seed`` becomes
    ``seed + sample`` so the N samples differ. ``label`` names the model in the rows (by default
    the ``model_name`` the model reports in ``response_metadata``); two generators need distinct
    names. ``n`` overrides the run's candidates per prompt for this model. A model with
    ``acandidates`` (ChatZephyr) is asked for a prompt's missing candidates in one call (one
    request with ``n`` on vLLM / SGLang); others get one ``ainvoke`` per candidate.
    """

    model: BaseChatModel
    params: Mapping[str, Any] = field(default_factory=dict)
    label: str | None = None
    n: int | None = None


@dataclass(frozen=True)
class Failure:
    """A call that failed after its retries (or a judge reply that did not parse)."""

    prompt_id: str
    model: str
    sample: int
    where: str
    error: str

    def __str__(self) -> str:
        record = f"prompt_id {self.prompt_id[:12]}, model {self.model}, sample {self.sample}"
        return f"{self.where} ({record}): {self.error}"


@dataclass
class CollectReport:
    """What a run did: rows written now, rows found from an earlier run, what failed."""

    output: Path
    written: int = 0
    resumed: int = 0
    failures: list[Failure] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    flagged: dict[str, int] = field(default_factory=dict)
    torn_line_dropped: bool = False
    seconds: float = 0.0


class CollectError(ValueError):
    """Collecting cannot start: a bad generator, an unusable output, a first call that fails."""


def collect(
    prompts: PromptSet | Sequence[Prompt],
    generators: Sequence[Generator],
    output: str | Path,
    **options: Any,
) -> CollectReport:
    """Synchronous :func:`acollect`."""
    return asyncio.run(acollect(prompts, generators, output, **options))


async def acollect(
    prompts: PromptSet | Sequence[Prompt],
    generators: Sequence[Generator],
    output: str | Path,
    *,
    n: int = 1,
    concurrency: int = 16,
    max_retries: int = 2,
    retry_wait: float = 0.5,
    progress: bool = False,
    fsync_every: int = 64,
) -> CollectReport:
    """Collect ``n`` candidates per prompt from every generator into ``output`` (JSON lines).

    Resumes from ``output`` (or its ``.partial``) when there. A call that fails after
    ``max_retries`` retries is reported in :attr:`CollectReport.failures` and left out (start
    again to retry it). An empty answer gets ``flags=["empty_response"]``, one cut by the token
    budget ``flags=["truncated"]``.
    """
    started = time.perf_counter()
    items = list(prompts.prompts if isinstance(prompts, PromptSet) else prompts)
    _check(items, generators, n, concurrency)
    if max_retries < 0:
        raise CollectError(f"max_retries={max_retries} must be 0 or more")
    report = CollectReport(output=Path(output))
    if isinstance(prompts, PromptSet):
        report.duplicates = list(prompts.duplicates)
    if not report.output.parent.is_dir():
        raise CollectError(f"{output}: the folder {report.output.parent} does not exist")

    async def call(generator: Generator, prompt: Prompt, sample: int) -> AIMessage:
        params = sample_params(generator.params, sample)
        messages = _to_langchain(prompt.messages)
        return await with_retries(
            lambda: _ainvoke(generator.model, messages, params),
            max_retries=max_retries,
            retry_wait=retry_wait,
        )

    async def call_n(generator: Generator, prompt: Prompt, samples: tuple[int, ...]) -> Any:
        """Samples ``samples`` (consecutive) in one call of a model that has ``acandidates``
        (ChatZephyr: one request with ``n`` on vLLM / SGLang); seeds as one call per sample."""
        params = sample_params(generator.params, samples[0])
        messages = _to_langchain(prompt.messages)
        model: Any = generator.model
        answers = await with_retries(
            lambda: model.acandidates(messages, len(samples), **params),
            max_retries=max_retries,
            retry_wait=retry_wait,
        )
        if len(answers) != len(samples) or not all(isinstance(a, AIMessage) for a in answers):
            raise TypeError(f"{type(model).__name__}.acandidates did not return {len(samples)} "
                            "AIMessages")  # fmt: skip
        return answers

    names, probes = await _names(generators, items[0], call)
    log = CheckpointLog(report.output, _key, fsync_every=fsync_every)
    done = log.open()
    try:
        report.resumed, report.torn_line_dropped = log.resumed, log.torn

        def keep(row: CandidateRow) -> None:
            if _key(dict(row)) in log.rows:
                return  # a probe that an earlier run had already answered
            log.append(dict(row))
            report.written += 1
            for flag in row["flags"]:
                report.flagged[flag] = report.flagged.get(flag, 0) + 1

        for index, message in probes.items():
            keep(candidate_row(items[0], names[index], 0, generators[index].params, message))
        jobs = []  # (generator, prompt, samples): candidates asked for in one call
        for prompt in items:
            for index, generator in enumerate(generators):
                missing = [
                    sample
                    for sample in range(generator.n or n)
                    if (prompt.prompt_id, names[index], sample) not in done
                    and not (sample == 0 and prompt is items[0] and index in probes)
                ]
                if hasattr(generator.model, "acandidates"):
                    jobs += [(index, prompt, run) for run in _runs(missing)]
                else:
                    jobs += [(index, prompt, (sample,)) for sample in missing]

        async def work(job: tuple[int, Prompt, tuple[int, ...]]) -> None:
            index, prompt, samples = job
            generator = generators[index]
            try:
                if len(samples) == 1:
                    messages = [await call(generator, prompt, samples[0])]
                else:
                    messages = await call_n(generator, prompt, samples)
            except Exception as exc:  # recorded, not raised: the other calls go on
                error = f"{type(exc).__name__}: {exc}"
                report.failures += [
                    Failure(prompt.prompt_id, names[index], sample, prompt.where, error)
                    for sample in samples
                ]
                return
            for sample, message in zip(samples, messages, strict=True):
                keep(candidate_row(prompt, names[index], sample, generator.params, message))

        async with progress_bar("collecting", len(jobs), enabled=progress) as advance:
            await run_all(jobs, work, concurrency=concurrency, on_done=advance)
        log.finish(order=_order(items, names))
    finally:
        log.close()
    report.seconds = time.perf_counter() - started
    return report


def _runs(samples: list[int]) -> list[tuple[int, ...]]:
    """``samples`` as runs of consecutive numbers, at most `MAX_CANDIDATES` long:
    [0, 1, 3] -> [(0, 1), (3,)]."""
    runs: list[list[int]] = []
    for sample in samples:
        if runs and runs[-1][-1] == sample - 1 and len(runs[-1]) < MAX_CANDIDATES:
            runs[-1].append(sample)
        else:
            runs.append([sample])
    return [tuple(run) for run in runs]


def sample_params(params: Mapping[str, Any], sample: int) -> dict[str, Any]:
    """The parameters of one sample: ``seed`` (if any) becomes ``seed + sample``."""
    chosen = dict(params)
    if isinstance(chosen.get("seed"), int):
        chosen["seed"] += sample
    return chosen


def candidate_row(
    prompt: Prompt, model: str, sample: int, params: Mapping[str, Any], message: AIMessage
) -> CandidateRow:
    """The row for one answer: text, usage and finish reason from the ``AIMessage``."""
    text = message.text
    finish = finish_reason(message)
    flags = []
    if not text.strip():
        flags.append("empty_response")
    if finish == "length":
        flags.append("truncated")
    return CandidateRow(
        prompt_id=prompt.prompt_id,
        prompt=prompt.prompt,
        messages=list(prompt.messages),
        model=model,
        sample=sample,
        response=text,
        params=sample_params(params, sample),
        usage=_usage(message),
        finish_reason=finish,
        flags=flags,
    )


def model_name(message: AIMessage, model: BaseChatModel) -> str:
    """The name a model reports for itself: ``response_metadata`` first, then LangSmith's."""
    metadata = message.response_metadata
    for key in ("model_name", "model", "model_id"):
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return value
    name = model._get_ls_params().get("ls_model_name")
    return name if isinstance(name, str) and name else type(model).__name__


def finish_reason(message: AIMessage) -> str | None:
    """``"stop"`` or ``"length"`` when the provider says so (its own word otherwise)."""
    metadata = message.response_metadata
    for key in ("finish_reason", "stop_reason", "done_reason"):
        value = metadata.get(key)
        if isinstance(value, str) and value:
            return _FINISH_REASONS.get(value.lower(), value)
    return None


# -- internals ---------------------------------------------------------------------------------


def _check(
    items: Sequence[Prompt], generators: Sequence[Generator], n: int, concurrency: int
) -> None:
    if not items:
        raise CollectError("no prompts to collect")
    if not generators:
        raise CollectError("no generator: give at least one chat model")
    if n < 1 or concurrency < 1:
        raise CollectError(f"n={n} and concurrency={concurrency} must be at least 1")
    for index, generator in enumerate(generators):
        if not isinstance(generator.model, BaseChatModel):
            raise CollectError(
                f"generator {index}: {type(generator.model).__name__} is not a LangChain "
                "BaseChatModel"
            )
        if generator.n is not None and generator.n < 1:
            raise CollectError(f"generator {index}: n={generator.n} must be at least 1")
        try:
            json.dumps(dict(generator.params))
        except (TypeError, ValueError) as exc:
            raise CollectError(f"generator {index}: params must be JSON values ({exc})") from exc


async def _names(
    generators: Sequence[Generator], first: Prompt, call: Any
) -> tuple[list[str], dict[int, AIMessage]]:
    """Each generator's name: its label, or what it reports on its first answer (kept as the
    first prompt's sample 0). Two generators with one name are refused."""
    unnamed = [index for index, generator in enumerate(generators) if not generator.label]

    async def probe(index: int) -> AIMessage:
        try:
            message: AIMessage = await call(generators[index], first, 0)
        except Exception as exc:
            raise CollectError(
                f"generator {index} ({type(generators[index].model).__name__}) failed on its "
                f"first call ({first.where}): {type(exc).__name__}: {exc}"
            ) from exc
        return message

    answers = await asyncio.gather(*(probe(index) for index in unnamed))
    probes = dict(zip(unnamed, answers, strict=True))
    names = [
        generator.label or model_name(probes[index], generator.model)
        for index, generator in enumerate(generators)
    ]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise CollectError(
            f"two generators are both named {repeated[0]!r}: give each a distinct label"
        )
    return names, probes


async def _ainvoke(
    model: BaseChatModel, messages: list[BaseMessage], params: dict[str, Any]
) -> AIMessage:
    message = await model.ainvoke(messages, **params)
    if not isinstance(message, AIMessage):
        raise TypeError(f"{type(model).__name__} returned {type(message).__name__}, not AIMessage")
    return message


def _to_langchain(turns: Sequence[ChatTurn]) -> list[BaseMessage]:
    return convert_to_messages([{"role": t["role"], "content": t["content"]} for t in turns])


def _usage(message: AIMessage) -> Usage | None:
    usage = message.usage_metadata
    if usage is None:
        return None
    return Usage(
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
        total_tokens=usage["total_tokens"],
    )


def _key(row: Row) -> tuple[str, str, int]:
    return (row["prompt_id"], row["model"], int(row["sample"]))


def _order(items: Sequence[Prompt], names: Sequence[str]) -> Any:
    """Rows by prompt (file order), then model, then sample; rows of an earlier run whose
    prompt or model is not in this run come last, in a stable order."""
    prompt_rank = {prompt.prompt_id: rank for rank, prompt in enumerate(items)}
    model_rank = {name: rank for rank, name in enumerate(names)}
    last = len(items) + len(names)

    def order(row: Row) -> tuple[int, str, int, str, int]:
        return (
            prompt_rank.get(row["prompt_id"], last),
            row["prompt_id"],
            model_rank.get(row["model"], last),
            row["model"],
            int(row["sample"]),
        )

    return order
