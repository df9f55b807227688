"""Small chat models that are not ours, answering from the real prompt, for collect tests."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult


class EchoChat(BaseChatModel):
    """Answers "<last user text> #<seed> t=<temperature>", with usage and a finish reason.

    A prompt containing "EMPTY" gets an empty answer, "LONG" one cut by the token budget
    (``finish_reason="length"``), "FAIL" an exception on every call; "FLAKY" fails the first
    ``flaky_failures`` calls. ``delay`` seconds pass in each async call, and the most calls in
    flight at once is kept in ``peak``.
    """

    reported_name: str = "echo-model"
    delay: float = 0.0
    flaky_failures: int = 0
    calls: int = 0
    in_flight: int = 0
    peak: int = 0

    @property
    def _llm_type(self) -> str:
        return "echo"

    def _answer(self, messages: list[BaseMessage], **kwargs: Any) -> AIMessage:
        self.calls += 1
        text = str(messages[-1].content)
        if "FLAKY" in text and self.flaky_failures > 0:
            self.flaky_failures -= 1
            raise ConnectionError(f"model unavailable for {text!r}")
        if "FAIL" in text:
            raise ConnectionError(f"model unavailable for {text!r}")
        finish = "length" if "LONG" in text else "stop"
        answer = (
            "" if "EMPTY" in text else f"{text} #{kwargs.get('seed')} t={kwargs.get('temperature')}"
        )
        words = len(answer.split())
        return AIMessage(
            content=answer,
            response_metadata={"model_name": self.reported_name, "finish_reason": finish},
            usage_metadata={
                "input_tokens": len(text.split()),
                "output_tokens": words,
                "total_tokens": len(text.split()) + words,
            },
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._answer(messages, **kwargs))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            return self._generate(messages, stop, **kwargs)
        finally:
            self.in_flight -= 1


def echo_model() -> EchoChat:
    """A factory for ``zephyr collect -m import:tests.unit.chat_models:echo_model``."""
    return EchoChat()
