"""Bounded memory on the Transformers backend (issue 16): a cap on sequences and on KV-cache
positions, a first-come-first-served queue beyond them, out-of-memory shrinking the batch; and
LangChain's ``max_concurrency`` honoured by ``batch``/``abatch`` (issue 13). Tiny model, fp32."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import torch
from langchain_core.messages import HumanMessage

from zephyr_integrations import ChatZephyr, format_messages
from zephyr_integrations.backends import transformers as tf_backend
from zephyr_integrations.backends.base import GenerationParams, GenerationRequest
from zephyr_integrations.backends.hf_limits import cache_footprint
from zephyr_integrations.backends.hf_scheduler import SchedulerStats
from zephyr_integrations.backends.transformers import TransformersBackend

PROMPTS = [f"Question {i}: {'tell me more ' * (i % 3)}" for i in range(6)]


@pytest.fixture(autouse=True)
def engines(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh engine per test (its own scheduler, caps and statistics)."""
    monkeypatch.setattr(tf_backend, "_ENGINES", {})


def backend(path: Path, **kwargs: Any) -> TransformersBackend:
    return TransformersBackend(str(path), dtype="float32", **kwargs)


def request(prompt: str, max_new_tokens: int = 20) -> GenerationRequest:
    return GenerationRequest(
        format_messages([HumanMessage(prompt)]), GenerationParams(max_new_tokens=max_new_tokens)
    )


def recording(tiny: TransformersBackend) -> SchedulerStats:
    stats = SchedulerStats(record_steps=True)
    tiny.engine.scheduler.stats = stats
    return stats


def test_footprint_is_the_peak_of_the_padded_cache() -> None:
    assert cache_footprint([]) == 0
    assert cache_footprint([(10, 5)]) == 14  # the last token is never read back
    # two rows live for 4 steps (2 x (20 + 3)); then one row of 30 + 9 alone
    assert cache_footprint([(20, 4), (30, 10)]) == max(2 * (30 + 3), 30 + 9)


def test_max_batch_size_queues_the_rest_first_come_first_served(tiny_model_path: Path) -> None:
    tiny = backend(tiny_model_path, max_batch_size=2)
    stats = recording(tiny)
    requests = [request(p) for p in PROMPTS]
    together = tiny.generate(requests)
    assert max(stats.batch_sizes) == 2
    assert stats.admissions == sorted(stats.admissions)  # in the order they came
    assert together == [tiny.generate([r])[0] for r in requests]


def test_max_cache_tokens_bounds_the_kv_cache(tiny_model_path: Path) -> None:
    requests = [request(p, 40) for p in PROMPTS]
    one = cache_footprint([(len(tiny_ids(tiny_model_path, r)), 40) for r in requests[:1]])
    cap = 2 * one + 10
    tiny = backend(tiny_model_path, max_cache_tokens=cap)
    stats = recording(tiny)
    together = tiny.generate(requests)
    assert stats.peak_cache_tokens <= cap
    assert 1 < max(stats.batch_sizes) < len(requests)
    assert stats.admissions == sorted(stats.admissions)
    assert together == [tiny.generate([r])[0] for r in requests]
    with pytest.raises(ValueError, match=f"max_cache_tokens={cap}: lower max_tokens"):
        tiny.generate([request("Hello", 5 * cap)])


def tiny_ids(path: Path, req: GenerationRequest) -> list[int]:
    return list(backend(path).engine.tokenizer(req.prompt)["input_ids"])


def test_a_head_that_does_not_fit_is_not_overtaken(tiny_model_path: Path) -> None:
    small, big = request("Hi", 10), request("Hello there", 200)
    need_small = cache_footprint([(len(tiny_ids(tiny_model_path, small)), 10)])
    need_big = cache_footprint([(len(tiny_ids(tiny_model_path, big)), 200)])
    tiny = backend(tiny_model_path, max_cache_tokens=need_big + need_small - 1)
    stats = recording(tiny)
    # the first big one runs; the second big one cannot join it; the small one, which could,
    # waits behind it
    outcomes = tiny.generate([big, big, small])
    assert stats.admissions == [1, 2, 3]
    assert max(stats.batch_sizes) == 2  # the second big one ran with the small one only
    assert [g.completion_tokens for g in outcomes] == [200, 200, 10]


def test_out_of_memory_shrinks_the_batch_and_retries(
    tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny = backend(tiny_model_path)
    requests = [request(p, 30) for p in PROMPTS]
    alone = [tiny.generate([r])[0] for r in requests]
    stats = recording(tiny)
    second_layer: Any = tiny.engine.model.model.layers[1]
    forward = second_layer.forward

    def device_with_room_for_two_rows(hidden_states: torch.Tensor, *args: Any, **kw: Any) -> Any:
        if hidden_states.shape[0] > 2:  # after the first layer wrote its cache: a partial step
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(hidden_states, *args, **kw)

    monkeypatch.setattr(second_layer, "forward", device_with_room_for_two_rows)
    assert tiny.generate(requests) == alone
    assert stats.preempted > 0
    assert max(stats.batch_sizes) < len(requests)  # it shrank instead of failing everyone


def test_out_of_memory_for_one_request_alone_fails_that_request(
    tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny = backend(tiny_model_path)
    layer: Any = tiny.engine.model.model.layers[0]
    forward = layer.forward

    def no_room_for_long_prompts(hidden_states: torch.Tensor, *args: Any, **kw: Any) -> Any:
        if hidden_states.shape[1] > 200:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(hidden_states, *args, **kw)

    monkeypatch.setattr(layer, "forward", no_room_for_long_prompts)
    outcomes = tiny.generate_each([request("paris " * 300), request("Hi", 5)])
    assert isinstance(outcomes[0], torch.OutOfMemoryError)
    assert "alone" in str(outcomes[0])
    assert not isinstance(outcomes[1], BaseException) and outcomes[1].completion_tokens == 5


def chat(path: Path) -> ChatZephyr:
    return ChatZephyr(
        model=str(path), temperature=0, max_tokens=12, backend_kwargs={"dtype": "float32"}
    )


def test_batch_honours_max_concurrency(tiny_model_path: Path) -> None:
    llm = chat(tiny_model_path)
    engine = llm._backend.engine  # type: ignore[attr-defined]
    one_by_one = [llm.invoke(p).content for p in PROMPTS]
    engine.scheduler.stats = stats = SchedulerStats(record_steps=True)
    limited = llm.batch(PROMPTS, config={"max_concurrency": 2})
    assert [m.content for m in limited] == one_by_one
    assert max(stats.batch_sizes) == 2
    engine.scheduler.stats = stats = SchedulerStats(record_steps=True)
    assert [m.content for m in llm.batch(PROMPTS)] == one_by_one
    assert stats.batch_sizes[0] == len(PROMPTS)  # unlimited: all start together


async def test_abatch_honours_max_concurrency(tiny_model_path: Path) -> None:
    llm = chat(tiny_model_path)
    engine = llm._backend.engine  # type: ignore[attr-defined]
    one_by_one = [(await llm.ainvoke(p)).content for p in PROMPTS]
    engine.scheduler.stats = stats = SchedulerStats(record_steps=True)
    configs: Any = [{"max_concurrency": 3}] * len(PROMPTS)
    limited = await llm.abatch(PROMPTS, config=configs)
    assert [m.content for m in limited] == one_by_one
    assert max(stats.batch_sizes) == 3
    engine.scheduler.stats = stats = SchedulerStats(record_steps=True)
    assert [m.content for m in await llm.abatch(PROMPTS)] == one_by_one
    assert stats.batch_sizes[0] == len(PROMPTS)


def test_backends_on_one_model_must_agree_on_its_caps(tiny_model_path: Path) -> None:
    first = backend(tiny_model_path, max_batch_size=4)
    assert first.engine.limits.max_batch_size == 4
    assert backend(tiny_model_path).engine is first.engine  # no caps asked: shares
    with pytest.raises(ValueError, match="already loaded with max_batch_size=4"):
        _ = backend(tiny_model_path, max_batch_size=8).engine
    with pytest.raises(ValueError, match="max_batch_size=0 is invalid"):
        backend(tiny_model_path, max_batch_size=0)
    with pytest.raises(ValueError, match="max_cache_tokens=-1 is invalid"):
        backend(tiny_model_path, max_cache_tokens=-1)


def test_many_callers_beyond_the_cap_all_finish(tiny_model_path: Path) -> None:
    llm = ChatZephyr(
        model=str(tiny_model_path),
        temperature=0,
        max_tokens=8,
        backend_kwargs={"dtype": "float32", "max_batch_size": 3},
    )
    engine = llm._backend.engine  # type: ignore[attr-defined]

    async def run() -> list[Any]:
        return await asyncio.gather(*(llm.ainvoke(f"call {i}") for i in range(20)))

    replies = asyncio.run(run())
    assert all(m.usage_metadata["output_tokens"] == 8 for m in replies)
    assert engine.scheduler.stats.peak_batch == 3
    assert not engine.scheduler.busy


def test_an_idle_engine_thread_ends_and_the_next_request_restarts_it(
    tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zephyr_integrations.backends import hf_scheduler

    monkeypatch.setattr(hf_scheduler, "IDLE_EXIT_S", 0.05)
    tiny = backend(tiny_model_path)
    first = tiny.generate([request("Hi", 3)])[0]
    thread = tiny.engine.scheduler._thread
    assert thread is not None
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert tiny.generate([request("Hi", 3)])[0] == first
