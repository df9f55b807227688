"""Continuous batching on the Transformers backend (issue 16): requests join a running batch
between decode steps, keep their own semantics there, and leave when done. Tiny model, fp32."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from langchain_core.messages import HumanMessage

from zephyr_integrations import ChatZephyr, format_messages
from zephyr_integrations.backends import transformers as tf_backend
from zephyr_integrations.backends.base import GenerationParams, GenerationRequest, Grammar
from zephyr_integrations.backends.hf_engine import TransformersEngine
from zephyr_integrations.backends.hf_scheduler import SchedulerStats
from zephyr_integrations.backends.transformers import TransformersBackend

PROMPTS = [f"Question {i}: {'tell me more about paris ' * (i % 4)}" for i in range(8)]


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh engine per test (its own scheduler, caps and statistics)."""
    monkeypatch.setattr(tf_backend, "_ENGINES", {})


def backend(path: Path, **kwargs: Any) -> TransformersBackend:
    return TransformersBackend(str(path), dtype="float32", **kwargs)


def request(prompt: str, **params: Any) -> GenerationRequest:
    params.setdefault("max_new_tokens", 24)
    return GenerationRequest(format_messages([HumanMessage(prompt)]), GenerationParams(**params))


def raw_generate(engine: TransformersEngine, req: GenerationRequest, **options: Any) -> str:
    """One request alone through transformers' own ``generate``."""
    encoded = engine.tokenizer([req.prompt], return_tensors="pt")
    with torch.inference_mode():
        out = engine.model.generate(
            **encoded,
            max_new_tokens=req.params.max_new_tokens,
            do_sample=False,
            eos_token_id=2,
            pad_token_id=2,
            **options,
        )
    return str(
        engine.tokenizer.decode(out[0, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
    )


def test_greedy_batched_equals_one_by_one_generate(tiny_model_path: Path, engines: None) -> None:
    tiny = backend(tiny_model_path)
    requests = [request(p, max_new_tokens=16 + 13 * i) for i, p in enumerate(PROMPTS)]
    together = tiny.generate(requests)
    engine = tiny.engine
    assert engine.scheduler.stats.peak_batch == len(requests)
    assert [g.text for g in together] == [raw_generate(engine, r) for r in requests]
    assert [g.completion_tokens for g in together] == [16 + 13 * i for i in range(8)]
    alone = [tiny.generate([r])[0] for r in requests]
    assert together == alone  # text, finish reason and exact usage


async def test_requests_join_a_running_batch_and_a_short_one_finishes_first(
    tiny_model_path: Path, engines: None
) -> None:
    llm = ChatZephyr(model=str(tiny_model_path), temperature=0, backend_kwargs={"dtype": "float32"})
    engine = llm._backend.engine  # type: ignore[attr-defined]
    engine.scheduler.stats = SchedulerStats(record_steps=True)
    long_call = asyncio.create_task(llm.ainvoke("Tell me a long story", max_tokens=1500))
    while engine.scheduler.stats.steps < 5:  # the long request is decoding
        await asyncio.sleep(0.005)
    short = await llm.ainvoke("Hi", max_tokens=5)
    assert short.usage_metadata is not None and short.usage_metadata["output_tokens"] == 5
    assert not long_call.done()  # the long one keeps going after the short one left
    assert max(engine.scheduler.stats.batch_sizes) == 2  # it joined the running batch
    long = await long_call
    assert long.usage_metadata is not None and long.usage_metadata["output_tokens"] == 1500
    sizes = engine.scheduler.stats.batch_sizes
    assert sizes[0] == 1 and sizes[-1] == 1  # alone before the short one came and after it left


async def test_concurrent_callers_share_steps_and_stream_their_own_text(
    tiny_model_path: Path, engines: None
) -> None:
    llm = ChatZephyr(
        model=str(tiny_model_path),
        temperature=0,
        max_tokens=30,
        backend_kwargs={"dtype": "float32"},
    )
    alone = [(await llm.ainvoke(p)).content for p in PROMPTS[:4]]
    engine = llm._backend.engine  # type: ignore[attr-defined]
    engine.scheduler.stats = SchedulerStats()

    async def streamed(prompt: str) -> str:
        return "".join([str(chunk.content) async for chunk in llm.astream(prompt)])

    invoked, streams = await asyncio.gather(
        asyncio.gather(*(llm.ainvoke(p) for p in PROMPTS[:4])),
        asyncio.gather(*(streamed(p) for p in PROMPTS[:4])),
    )
    assert [m.content for m in invoked] == alone
    assert list(streams) == alone
    assert engine.scheduler.stats.peak_batch > 1
    assert engine.scheduler.stats.steps < 8 * 30  # steps were shared


def test_seeded_request_gives_the_same_text_alone_or_in_any_batch(
    tiny_model_path: Path, engines: None
) -> None:
    tiny = backend(tiny_model_path)
    seeded = request("Hi there", temperature=1.0, seed=42, max_new_tokens=40)
    filtered = request("Hi there", temperature=0.8, top_k=20, top_p=0.9, seed=7, max_new_tokens=40)
    alone = tiny.generate([seeded])[0].text
    alone_filtered = tiny.generate([filtered])[0].text
    neighbours = [
        request(PROMPTS[1]),
        request(PROMPTS[2], temperature=1.3, seed=1),
        request(PROMPTS[3], temperature=0.7, top_p=0.5),
        request(PROMPTS[4], repetition_penalty=1.3),
    ]
    first = tiny.generate([*neighbours[:2], seeded, filtered])
    second = tiny.generate([filtered, *neighbours[2:], seeded, *neighbours[:1]])
    assert first[2].text == alone and second[3].text == alone
    assert first[3].text == alone_filtered and second[0].text == alone_filtered
    assert (
        tiny.generate([request("Hi there", temperature=1.0, seed=43, max_new_tokens=40)])[0].text
        != alone
    )


def test_sampling_parameters_apply_per_row(tiny_model_path: Path, engines: None) -> None:
    tiny = backend(tiny_model_path)
    greedy = request(PROMPTS[5], max_new_tokens=30)
    penalized = request(PROMPTS[5], max_new_tokens=30, repetition_penalty=1.5)
    top_k_one = request(PROMPTS[5], max_new_tokens=30, temperature=1.5, top_k=1, seed=3)
    top_p_tiny = request(PROMPTS[5], max_new_tokens=30, temperature=1.5, top_p=1e-6, seed=4)
    hot = request(PROMPTS[5], max_new_tokens=30, temperature=5.0, seed=5)
    out = tiny.generate([greedy, penalized, top_k_one, top_p_tiny, hot])
    engine = tiny.engine
    assert out[0].text == raw_generate(engine, greedy)
    assert out[1].text == raw_generate(engine, penalized, repetition_penalty=1.5)
    assert out[1].text != out[0].text
    assert out[2].text == out[0].text == out[3].text  # one candidate left: the greedy token
    assert out[4].text != out[0].text


def test_stop_sequence_cuts_and_the_row_leaves(tiny_model_path: Path, engines: None) -> None:
    tiny = backend(tiny_model_path)
    free = tiny.generate([request("Hello", max_new_tokens=60)])[0]
    stop = free.text[20:23]
    stopped, other = tiny.generate(
        [request("Hello", max_new_tokens=60, stop=(stop,)), request(PROMPTS[1], max_new_tokens=60)]
    )
    assert stopped.text == free.text[: free.text.index(stop)]
    assert stopped.finish_reason == "stop_sequence" and stopped.stop_sequence == stop
    assert stopped.completion_tokens < 60 == other.completion_tokens


def test_grammar_rows_next_to_free_rows(tiny_model_path: Path, engines: None) -> None:
    tiny = backend(tiny_model_path)
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 12}, "n": {"type": "integer"}},
        "required": ["city", "n"],
    }
    constrained = request("Answer in JSON", max_new_tokens=80, grammar=Grammar.json_schema(schema))
    free = [request(p) for p in PROMPTS[:3]]
    out = tiny.generate([free[0], constrained, free[1], constrained, free[2]])
    for generation in (out[1], out[3]):
        value = json.loads(generation.text)
        assert set(value) == {"city", "n"} and isinstance(value["n"], int)
    assert [out[0].text, out[2].text, out[4].text] == [tiny.generate([r])[0].text for r in free]


async def test_a_cancelled_caller_frees_its_slot_at_once(
    tiny_model_path: Path, engines: None
) -> None:
    llm = ChatZephyr(
        model=str(tiny_model_path),
        temperature=0,
        backend_kwargs={"dtype": "float32", "max_batch_size": 1},
    )
    engine = llm._backend.engine  # type: ignore[attr-defined]
    hog = asyncio.create_task(llm.ainvoke("Tell me everything", max_tokens=1900))
    while engine.scheduler.stats.steps < 3:
        await asyncio.sleep(0.005)
    waiting = asyncio.create_task(llm.ainvoke("Hi", max_tokens=4))
    await asyncio.sleep(0.05)
    assert engine.scheduler.stats.waiting == 1  # the only slot is taken
    started = time.perf_counter()
    hog.cancel()
    reply = await waiting
    assert time.perf_counter() - started < 1.0
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] == 4
    with pytest.raises(asyncio.CancelledError):
        await hog


def test_bad_requests_fail_alone(tiny_model_path: Path, engines: None) -> None:
    tiny = backend(tiny_model_path)
    too_long = GenerationRequest("paris " * 5000, GenerationParams(max_new_tokens=5))
    bad_grammar = request("x", grammar=Grammar("regex", "(unclosed"))
    timed_out = request("Tell me everything", max_new_tokens=1900, timeout=0.2)
    fine = request(PROMPTS[0])
    outcomes = tiny.generate_each([fine, too_long, bad_grammar, timed_out, fine])
    assert isinstance(outcomes[1], ValueError) and "reads at most" in str(outcomes[1])
    assert isinstance(outcomes[2], ValueError) and "regex" in str(outcomes[2])
    assert isinstance(outcomes[3], TimeoutError) and "timeout=0.2" in str(outcomes[3])
    alone = tiny.generate([fine])[0]
    assert outcomes[0] == alone and outcomes[4] == alone


@pytest.mark.slow
async def test_real_model_joining_a_running_batch_keeps_greedy_fp32_outputs(engines: None) -> None:
    from zephyr_integrations.local_models import smollm2_folder

    llm = ChatZephyr(
        model=str(smollm2_folder()), temperature=0, backend_kwargs={"dtype": "float32"}
    )
    questions = ["What is 2 + 2?", "Name a primary colour.", "What is the capital of Italy?"]
    budgets = [40, 12, 24]
    alone = [
        (await llm.ainvoke(q, max_tokens=n)).content
        for q, n in zip(questions, budgets, strict=True)
    ]
    engine = llm._backend.engine  # type: ignore[attr-defined]
    engine.scheduler.stats = SchedulerStats(record_steps=True)
    first = asyncio.create_task(llm.ainvoke(questions[0], max_tokens=budgets[0]))
    while engine.scheduler.stats.steps < 3:  # the first is decoding when the others join
        await asyncio.sleep(0.01)
    rest = await asyncio.gather(
        *(llm.ainvoke(q, max_tokens=n) for q, n in zip(questions[1:], budgets[1:], strict=True))
    )
    assert [(await first).content, *(m.content for m in rest)] == alone
    assert max(engine.scheduler.stats.batch_sizes) == 3
