"""collect: candidates from chat models that are not ours, concurrency, retries, flags, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.test_collect_fakes import EchoChat
from zephyr_integrations.preferences.checkpoint import CheckpointError
from zephyr_integrations.preferences.collect import CollectError, Generator, acollect, collect
from zephyr_integrations.preferences.prompts import Prompt, read_prompts
from zephyr_integrations.preferences.records import prompt_id


def prompts_file(tmp_path: Path, texts: list[str]) -> Path:
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"prompt": t}) + "\n" for t in texts), encoding="utf-8")
    return path


def rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def keys(found: list[dict[str, object]]) -> list[tuple[object, object, object]]:
    return [(r["prompt_id"], r["model"], r["sample"]) for r in found]


async def test_n_candidates_from_each_model_with_its_own_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)  # no Hub lookup for a local file

    prompts = read_prompts(prompts_file(tmp_path, ["What is DPO?", "Why?"]))
    hot = Generator(EchoChat(reported_name="m-hot"), {"temperature": 0.9, "seed": 10})
    cold = Generator(EchoChat(reported_name="ignored"), {"temperature": 0}, label="cold", n=1)
    out = tmp_path / "candidates.jsonl"
    report = await acollect(prompts, [hot, cold], out, n=3, concurrency=4)

    assert report.written == 2 * (3 + 1) and not report.failures
    found = rows(out)
    assert [(r["prompt"], r["model"], r["sample"]) for r in found] == [
        ("What is DPO?", "m-hot", 0), ("What is DPO?", "m-hot", 1), ("What is DPO?", "m-hot", 2),
        ("What is DPO?", "cold", 0),
        ("Why?", "m-hot", 0), ("Why?", "m-hot", 1), ("Why?", "m-hot", 2), ("Why?", "cold", 0),
    ]  # fmt: skip
    first = found[1]
    assert first["prompt_id"] == prompt_id("What is DPO?")
    assert first["messages"] == [{"role": "user", "content": "What is DPO?"}]
    assert first["response"] == "What is DPO? #11 t=0.9"  # seed + sample reached the model
    assert first["params"] == {"temperature": 0.9, "seed": 11}
    assert first["usage"] == {"input_tokens": 3, "output_tokens": 5, "total_tokens": 8}
    assert first["finish_reason"] == "stop" and first["flags"] == []
    assert found[3]["response"] == "What is DPO? #None t=0"

    loaded = datasets.load_dataset("json", data_files=str(out), split="train")
    assert loaded.num_rows == 8 and loaded[1]["response"] == first["response"]
    assert not (tmp_path / "candidates.jsonl.partial").exists()


async def test_empty_and_truncated_answers_are_flagged(tmp_path: Path) -> None:
    prompts = read_prompts(prompts_file(tmp_path, ["say EMPTY", "go LONG", "fine"]))
    report = await acollect(prompts, [Generator(EchoChat())], tmp_path / "o.jsonl")
    flags = {r["prompt"]: r["flags"] for r in rows(tmp_path / "o.jsonl")}
    assert flags == {"say EMPTY": ["empty_response"], "go LONG": ["truncated"], "fine": []}
    assert report.flagged == {"empty_response": 1, "truncated": 1}


async def test_concurrency_limit_holds(tmp_path: Path) -> None:
    model = EchoChat(delay=0.02)
    prompts = read_prompts(prompts_file(tmp_path, [f"q{i}" for i in range(40)]))
    await acollect(prompts, [Generator(model, label="echo")], tmp_path / "o.jsonl", concurrency=5)
    assert model.peak == 5 and model.calls == 40


async def test_transient_errors_are_retried_and_lasting_ones_reported(tmp_path: Path) -> None:
    model = EchoChat(flaky_failures=2)
    path = prompts_file(tmp_path, ["first", "a FLAKY one", "this will FAIL", "last"])
    report = await acollect(
        read_prompts(path), [Generator(model)], tmp_path / "o.jsonl", max_retries=2, retry_wait=0
    )
    assert [r["prompt"] for r in rows(tmp_path / "o.jsonl")] == ["first", "a FLAKY one", "last"]
    [failure] = report.failures
    assert (failure.where, failure.model, failure.sample) == (f"{path}:3", "echo-model", 0)
    assert "ConnectionError: model unavailable" in str(failure)
    assert model.calls == 4 + 2 + 2  # 4 prompts, 2 retries of FLAKY, 2 retries of FAIL


async def test_bad_parameters_fail_without_retrying(tmp_path: Path) -> None:
    from zephyr_integrations.preferences.fanout import with_retries

    calls = 0

    async def bad() -> None:
        nonlocal calls
        calls += 1
        raise TypeError("unknown generation parameter(s) ['tempreature']")

    with pytest.raises(TypeError):
        await with_retries(bad, max_retries=3, retry_wait=0)
    assert calls == 1


async def test_resume_skips_done_keys_and_drops_a_torn_line(tmp_path: Path) -> None:
    prompts = read_prompts(prompts_file(tmp_path, [f"q{i}" for i in range(6)]))
    out = tmp_path / "o.jsonl"
    first = EchoChat()
    await acollect(prompts.prompts[:3], [Generator(first, label="echo")], out, n=2)
    done = out.read_text(encoding="utf-8").splitlines()
    # As a killed run leaves it: the partial log, the last row torn half-way.
    out.unlink()
    partial = tmp_path / "o.jsonl.partial"
    partial.write_text("\n".join(done[:5]) + "\n" + done[5][:40], encoding="utf-8")

    second = EchoChat()
    report = await acollect(prompts, [Generator(second, label="echo")], out, n=2)
    assert report.resumed == 5 and report.torn_line_dropped and report.written == 7
    assert second.calls == 7
    found = rows(out)
    expected = [(p.prompt_id, "echo", s) for p in prompts.prompts for s in range(2)]
    assert keys(found) == expected  # each key once, in order
    assert not partial.exists()


async def test_rerun_on_a_finished_output_adds_only_new_prompts(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    await acollect([_prompt("a")], [Generator(EchoChat(), label="e")], out)
    model = EchoChat()
    report = await acollect([_prompt("a"), _prompt("b")], [Generator(model, label="e")], out)
    assert (report.resumed, report.written, model.calls) == (1, 1, 1)
    assert [r["prompt"] for r in rows(out)] == ["a", "b"]


def test_unlabelled_models_with_one_name_are_refused(tmp_path: Path) -> None:
    generators = [Generator(EchoChat(), {"temperature": 0}), Generator(EchoChat())]
    with pytest.raises(CollectError, match="both named 'echo-model': give each a distinct label"):
        collect([_prompt("a")], generators, tmp_path / "o.jsonl")
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_a_model_that_cannot_answer_at_all_stops_before_writing(tmp_path: Path) -> None:
    with pytest.raises(CollectError, match=r"generator 0 \(EchoChat\) failed on its first call"):
        collect([_prompt("FAIL")], [Generator(EchoChat())], tmp_path / "o.jsonl", retry_wait=0)
    assert list(tmp_path.iterdir()) == []


async def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(CollectError, match="folder .* does not exist"):
        await acollect([_prompt("a")], [Generator(EchoChat())], tmp_path / "no" / "o.jsonl")
    with pytest.raises(CollectError, match="params must be JSON values"):
        await acollect([_prompt("a")], [Generator(EchoChat(), {"x": object()})], tmp_path / "o")
    with pytest.raises(CollectError, match="is not a LangChain BaseChatModel"):
        await acollect([_prompt("a")], [Generator("gpt")], tmp_path / "o")  # type: ignore[arg-type]


async def test_a_corrupt_log_names_its_line(tmp_path: Path) -> None:
    partial = tmp_path / "o.jsonl.partial"
    partial.write_text('{"prompt_id": "x", "model": "e", "sample": 0}\nnot json\n{}\n')
    with pytest.raises(CheckpointError, match=r"o\.jsonl\.partial:2: not a row this run wrote"):
        await acollect([_prompt("a")], [Generator(EchoChat(), label="e")], tmp_path / "o.jsonl")


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    from zephyr_integrations.preferences.checkpoint import CheckpointLog

    first = CheckpointLog(tmp_path / "o.jsonl", key=lambda row: row["k"])
    first.open()
    first.append({"k": 1})
    try:
        with pytest.raises(CheckpointError, match="another run is writing it"):
            CheckpointLog(tmp_path / "o.jsonl", key=lambda row: row["k"]).open()
    finally:
        first.close()
    assert (tmp_path / "o.jsonl.partial").read_text() == '{"k": 1}\n'


def _prompt(text: str) -> Prompt:
    return Prompt(prompt_id(text), text, [{"role": "user", "content": text}], f"test:{text}")


def test_a_prompts_missing_samples_are_asked_in_consecutive_runs() -> None:
    from zephyr_integrations.backends.base import MAX_CANDIDATES
    from zephyr_integrations.preferences.collect import _runs

    assert _runs([0, 1, 3, 4, 5, 7]) == [(0, 1), (3, 4, 5), (7,)]
    assert [len(run) for run in _runs(list(range(300)))] == [MAX_CANDIDATES, MAX_CANDIDATES, 44]
    assert _runs([]) == []
