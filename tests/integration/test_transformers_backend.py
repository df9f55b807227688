"""ChatZephyr on the Transformers backend, with the tiny offline model (fp32, greedy)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage

from zephyr_integrations import ChatZephyr, format_messages
from zephyr_integrations.backends import transformers as tf_backend
from zephyr_integrations.backends.hf_engine import TransformersEngine
from zephyr_integrations.backends.hf_scheduler import SchedulerStats
from zephyr_integrations.backends.transformers import TransformersBackend
from zephyr_integrations.testing import make_tiny_zephyr

CONVERSATIONS = [
    "Hello",
    "What is the capital of France?",
    [SystemMessage("Be brief."), HumanMessage("Name three colours.")],
    "tool call result weather city paris london number add two three four",
]


def chat(path: Path, **kwargs: Any) -> ChatZephyr:
    options: dict[str, Any] = {
        "temperature": 0,
        "max_tokens": 40,
        "backend_kwargs": {"dtype": "float32"},
    }
    options.update(kwargs)
    return ChatZephyr(model=str(path), **options)


def raw_greedy(path: Path, prompt: str, max_new_tokens: int) -> list[int]:
    engine = TransformersBackend(str(path), dtype="float32").engine
    encoded = engine.tokenizer([prompt], return_tensors="pt")
    with torch.inference_mode():
        out = engine.model.generate(
            **encoded,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=2,
            pad_token_id=2,
        )
    return list(out[0, encoded["input_ids"].shape[1] :].tolist())


def test_loads_lazily_once_per_model_dtype_device(
    tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []
    original = TransformersEngine.load.__func__  # type: ignore[attr-defined]

    def counting_load(cls: type[TransformersEngine], source: str, *args: Any, **kw: Any) -> Any:
        loads.append(source)
        return original(cls, source, *args, **kw)

    monkeypatch.setattr(TransformersEngine, "load", classmethod(counting_load))
    monkeypatch.setattr(tf_backend, "_ENGINES", {})
    models = [chat(tiny_model_path) for _ in range(10)]
    assert loads == []  # constructing loads nothing
    for model in models[:3]:
        model.invoke("hi", max_tokens=2)
    assert len(loads) == 1
    chat(tiny_model_path, backend_kwargs={"dtype": "bfloat16"}).invoke("hi", max_tokens=2)
    assert len(loads) == 2


def test_bos_is_added_exactly_once(tiny_model_path: Path) -> None:
    engine = TransformersBackend(str(tiny_model_path), dtype="float32").engine
    prompt = format_messages([HumanMessage("Hi <s> there")])
    ids = engine.encode([prompt])["input_ids"][0].tolist()
    bos = engine.tokenizer.bos_token_id
    assert ids[0] == bos
    assert ids[1:].count(bos) == 1  # the one in the user's text, which the tokenizer reads as <s>
    plain = engine.encode([format_messages([HumanMessage("Hi")])])["input_ids"][0].tolist()
    assert plain.count(bos) == 1


def test_invoke_matches_raw_generate_with_exact_usage(tiny_model_path: Path) -> None:
    model = chat(tiny_model_path, max_tokens=25)
    reply = model.invoke("What is DPO?")
    prompt = format_messages([HumanMessage("What is DPO?")])
    tokens = raw_greedy(tiny_model_path, prompt, 25)
    engine = model._backend.engine  # type: ignore[attr-defined]
    assert reply.content == engine.tokenizer.decode(tokens, skip_special_tokens=True)
    assert reply.usage_metadata == {
        "input_tokens": len(engine.tokenizer(prompt)["input_ids"]),
        "output_tokens": len(tokens),
        "total_tokens": len(engine.tokenizer(prompt)["input_ids"]) + len(tokens),
    }
    assert reply.response_metadata == {
        "model_name": str(tiny_model_path),
        "model_provider": "huggingface",
        "finish_reason": "length",
    }


def test_stream_joins_to_invoke_and_ends_with_usage(tiny_model_path: Path) -> None:
    model = chat(tiny_model_path)
    invoked = model.invoke("Hello there")
    chunks = list(model.stream("Hello there"))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(str(c.content) for c in chunks) == invoked.content
    assert chunks[-1].chunk_position == "last"
    assert [c.usage_metadata for c in chunks if c.usage_metadata] == [invoked.usage_metadata]
    assert chunks[-1].response_metadata["finish_reason"] == "length"
    assert all(c.content for c in chunks[:-1])  # no empty text chunks
    no_usage = list(chat(tiny_model_path, stream_usage=False).stream("Hello there"))
    assert all(c.usage_metadata is None for c in no_usage)


async def test_astream_joins_to_ainvoke(tiny_model_path: Path) -> None:
    model = chat(tiny_model_path)
    invoked = await model.ainvoke("Hello there")
    chunks = [c async for c in model.astream("Hello there")]
    assert "".join(str(c.content) for c in chunks) == invoked.content
    assert chunks[-1].chunk_position == "last"
    assert chunks[-1].usage_metadata == invoked.usage_metadata


def test_stop_sequence_stops_generation_and_is_cut(tiny_model_path: Path) -> None:
    model = chat(tiny_model_path, max_tokens=60)
    free = model.invoke("Hello")
    text = str(free.content)
    stop = text[20:23]
    assert stop and stop.strip()
    cut_at = text.index(stop)
    stopped = model.invoke("Hello", stop=[stop])
    assert stopped.content == text[:cut_at]
    assert stopped.response_metadata["finish_reason"] == "stop"
    assert stopped.response_metadata["stop_sequence"] == stop
    # a stopping criterion, not trimming: fewer tokens were generated
    assert stopped.usage_metadata is not None and free.usage_metadata is not None
    assert stopped.usage_metadata["output_tokens"] < free.usage_metadata["output_tokens"]
    streamed = "".join(str(c.content) for c in model.stream("Hello", stop=[stop]))
    assert streamed == stopped.content
    configured = chat(tiny_model_path, max_tokens=60, stop=[stop]).invoke("Hello")
    assert configured.content == stopped.content


@pytest.fixture(scope="module")
def eos_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with its EOS logit raised so that greedy decoding ends with EOS."""
    path = make_tiny_zephyr(tmp_path_factory.mktemp("eos-zephyr"))
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    encoded = AutoTokenizer.from_pretrained(path)([format_messages([HumanMessage("Hello")])])
    with torch.inference_mode():
        out = model.generate(**encoded.convert_to_tensors("pt"), max_new_tokens=12, do_sample=False)
    tokens = out[0, len(encoded["input_ids"][0]) :].tolist()
    with torch.no_grad():  # EOS scores like the 6th greedy token, slightly higher
        model.lm_head.weight[2] = model.lm_head.weight[tokens[5]] * 1.05
    model.save_pretrained(path)
    return path


def test_eos_never_leaks_into_content(eos_model: Path) -> None:
    model = chat(eos_model, max_tokens=60)
    reply = model.invoke("Hello")
    assert reply.response_metadata["finish_reason"] == "stop"
    assert "stop_sequence" not in reply.response_metadata
    assert reply.content  # some text, then EOS
    assert "</s>" not in str(reply.content)
    tokens = raw_greedy(eos_model, format_messages([HumanMessage("Hello")]), 60)
    assert tokens[-1] == 2
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] == len(tokens)  # EOS counted, as TGI does
    streamed = "".join(str(c.content) for c in model.stream("Hello"))
    assert streamed == reply.content


def test_temperature_zero_is_greedy_and_seed_makes_sampling_reproducible(
    tiny_model_path: Path,
) -> None:
    greedy = chat(tiny_model_path, temperature=0)
    assert greedy.invoke("Hi").content == greedy.invoke("Hi").content
    sampled = chat(tiny_model_path, temperature=1.0, seed=7)
    first = sampled.invoke("Hi").content
    assert sampled.invoke("Hi").content == first
    assert sampled.invoke("Hi", seed=8).content != first
    assert greedy.invoke("Hi").content != first


def test_batch_starts_together_and_equals_one_by_one(tiny_model_path: Path) -> None:
    model = chat(tiny_model_path)
    one_by_one = [model.invoke(c) for c in CONVERSATIONS]
    engine = model._backend.engine  # type: ignore[attr-defined]
    engine.scheduler.stats = SchedulerStats(record_steps=True)
    batched = model.batch(CONVERSATIONS)
    assert engine.scheduler.stats.batch_sizes[0] == len(CONVERSATIONS)  # one prefill for all
    assert [m.content for m in batched] == [m.content for m in one_by_one]
    assert [m.usage_metadata for m in batched] == [m.usage_metadata for m in one_by_one]
    assert all(isinstance(m, AIMessage) for m in batched)
    engine.scheduler.stats = SchedulerStats(record_steps=True)
    abatched = asyncio.run(model.abatch(CONVERSATIONS))
    assert engine.scheduler.stats.batch_sizes[0] == len(CONVERSATIONS)
    assert [m.content for m in abatched] == [m.content for m in one_by_one]


def test_batch_reports_bad_inputs_per_item(tiny_model_path: Path) -> None:
    model = chat(tiny_model_path, max_tokens=5)
    results = model.batch(["fine", [], "also fine"], return_exceptions=True)
    assert isinstance(results[0], AIMessage)
    assert isinstance(results[1], ValueError)
    assert "empty" in str(results[1])
    assert isinstance(results[2], AIMessage)


async def test_ainvoke_never_blocks_the_event_loop(tiny_model_path: Path) -> None:
    model = chat(tiny_model_path, max_tokens=600)
    await model.ainvoke("warm up", max_tokens=2)
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    started = time.perf_counter()
    await model.ainvoke("Tell me a long story")
    elapsed = time.perf_counter() - started
    done.set()
    await beat
    assert elapsed > 0.2  # long enough for blocking to show
    assert len(gaps) > 10
    assert max(gaps) < 0.15


async def _idle(engine: Any) -> bool:
    deadline = time.monotonic() + 2
    while engine.scheduler.busy and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return not engine.scheduler.busy


async def test_cancelling_astream_stops_generation(tiny_model_path: Path) -> None:
    model = chat(tiny_model_path, max_tokens=1900)
    engine = model._backend.engine  # type: ignore[attr-defined]
    stream = model.astream("Tell me everything")
    first = await anext(stream)
    assert isinstance(first, AIMessageChunk)
    assert engine.scheduler.busy
    await stream.aclose()
    assert await _idle(engine)


async def test_cancelling_ainvoke_stops_generation(tiny_model_path: Path) -> None:
    model = chat(tiny_model_path, max_tokens=1900)
    engine = model._backend.engine  # type: ignore[attr-defined]
    task = asyncio.create_task(model.ainvoke("Tell me everything"))
    await asyncio.sleep(0.1)
    assert engine.scheduler.busy
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _idle(engine)


def test_closing_a_sync_stream_stops_generation(tiny_model_path: Path) -> None:
    model = chat(tiny_model_path, max_tokens=1900)
    engine = model._backend.engine  # type: ignore[attr-defined]
    stream = model.stream("Tell me everything")
    next(stream)
    started = time.perf_counter()
    stream.close()
    assert time.perf_counter() - started < 1.0
    assert asyncio.run(_idle(engine))


def test_timeout_stops_generation_and_raises(tiny_model_path: Path) -> None:
    model = chat(tiny_model_path, max_tokens=1900, timeout=0.05)
    started = time.perf_counter()
    with pytest.raises(TimeoutError, match="timeout=0.05"):
        model.invoke("Tell me everything")
    assert time.perf_counter() - started < 1.0
    with pytest.raises(TimeoutError):
        list(model.stream("Tell me everything"))


def test_prompt_longer_than_the_context_is_refused(tiny_model_path: Path) -> None:
    model = chat(tiny_model_path)
    with pytest.raises(ValueError, match="reads at most 4096"):
        model.invoke("paris " * 5000)


def test_loads_from_a_local_folder_with_relative_path(
    tiny_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tiny_model_path.parent)
    reply = chat(Path(tiny_model_path.name), max_tokens=3).invoke("hi")
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] == 3


def test_unreachable_hub_id_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    model = ChatZephyr(model="no-such-org/no-such-model-zephyr-test")
    with pytest.raises(FileNotFoundError, match="could not load model 'no-such-org/"):
        model.invoke("hi")
