"""A third-party backend, registered through the same hook as the built-ins."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from zephyr_integrations import ChatZephyr, format_messages
from zephyr_integrations.backends import Generation, GenerationRequest, TextDelta
from zephyr_integrations.hookspecs import RegisterBackend, RegisterBinarizer, hookimpl
from zephyr_integrations.plugins import (
    DuplicateBackendError,
    DuplicateNameError,
    backend_factories,
    binarizers,
    exporters,
    get_binarizer,
    load_plugins,
)
from zephyr_integrations.preferences.binarize import BinarizeOptions, binarize
from zephyr_integrations.preferences.strategies import (
    BUILTIN_BINARIZERS,
    Answers,
    Pair,
    PairPolicy,
)


class ReverseBackend:
    """Answers with the last user turn reversed; counts its batched calls."""

    batches_locally = True

    def __init__(self, model: str, suffix: str = "") -> None:
        self.model = model
        self.suffix = suffix
        self.calls: list[int] = []

    @property
    def model_name(self) -> str:
        return f"reverse:{self.model}"

    def _one(self, request: GenerationRequest) -> Generation:
        last_user = request.prompt.rsplit("<|user|>\n", 1)[-1].split("</s>", 1)[0]
        text = last_user[::-1] + self.suffix
        return Generation(text, "eos_token", len(request.prompt), len(text), self.model_name)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        self.calls.append(len(requests))
        return [self._one(r) for r in requests]

    async def agenerate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        return self.generate(requests)

    def stream(self, request: GenerationRequest) -> Iterator[TextDelta]:
        generation = self._one(request)
        yield from (TextDelta(ch) for ch in generation.text)
        yield TextDelta(generation=generation)

    async def astream(self, request: GenerationRequest) -> AsyncIterator[TextDelta]:
        for delta in self.stream(request):
            yield delta


class ReversePlugin:
    @hookimpl
    def register_backends(self, register: RegisterBackend) -> None:
        register("reverse", ReverseBackend)


@pytest.fixture
def reverse_plugin() -> Iterator[None]:
    pm = load_plugins()
    plugin = ReversePlugin()
    pm.register(plugin, name="reverse-plugin")
    yield
    pm.unregister(plugin)


@pytest.mark.usefixtures("reverse_plugin")
def test_registered_backend_is_used_by_name() -> None:
    chat = ChatZephyr(model="m", backend="reverse", backend_kwargs={"suffix": "!"})
    reply = chat.invoke("hello")
    assert reply.content == "olleh!"
    assert reply.response_metadata["model_name"] == "reverse:m"
    assert reply.response_metadata["finish_reason"] == "stop"
    assert "".join(str(c.content) for c in chat.stream("abc")) == "cba!"
    assert asyncio.run(chat.ainvoke("xy")).content == "yx!"


@pytest.mark.usefixtures("reverse_plugin")
def test_batch_reaches_the_backend_as_one_call() -> None:
    chat = ChatZephyr(model="m", backend="reverse")
    backend = chat._backend
    assert isinstance(backend, ReverseBackend)
    replies = chat.batch(["one", "two", "three", "two"])
    assert [r.content for r in replies] == ["eno", "owt", "eerht", "owt"]
    assert backend.calls == [4]
    replies = asyncio.run(chat.abatch(["ab", "cd"]))
    assert [r.content for r in replies] == ["ba", "dc"]


def test_backend_instances_are_accepted_directly() -> None:
    chat = ChatZephyr(backend=ReverseBackend("inst"))
    assert chat.invoke("ok").content == "ko"


def test_builtins_register_through_the_hook() -> None:
    assert "transformers" in backend_factories()


def test_two_plugins_claiming_one_name_are_named() -> None:
    class Clash:
        @hookimpl
        def register_backends(self, register: RegisterBackend) -> None:
            register("transformers", ReverseBackend)

    pm = load_plugins()
    clash = Clash()
    pm.register(clash, name="clash-plugin")
    try:
        with pytest.raises(DuplicateBackendError, match="'transformers'.*clash-plugin"):
            backend_factories()
    finally:
        pm.unregister(clash)


def test_entry_point_plugin_is_discovered(tmp_path: Path) -> None:
    package = tmp_path / "zephyr_echo_plugin"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from zephyr_integrations.backends import Generation, TextDelta
            from zephyr_integrations.hookspecs import hookimpl

            class Echo:
                def __init__(self, model):
                    self.model_name = model
                def generate(self, requests):
                    return [Generation(r.prompt[-20:], "length", 1, 1, self.model_name)
                            for r in requests]
                async def agenerate(self, requests):
                    return self.generate(requests)
                def stream(self, request):
                    yield TextDelta(generation=self.generate([request])[0])
                async def astream(self, request):
                    yield TextDelta(generation=self.generate([request])[0])

            @hookimpl
            def register_backends(register):
                register("echo", Echo)
            """
        )
    )
    dist = tmp_path / "zephyr_echo_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: zephyr-echo-plugin\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text("[zephyr_integrations]\necho = zephyr_echo_plugin\n")
    code = (
        "from zephyr_integrations import ChatZephyr\n"
        "m = ChatZephyr(model='x', backend='echo').invoke('hi there')\n"
        "print(repr(m.content), m.response_metadata['finish_reason'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    expected = format_messages([HumanMessage("hi there")])[-20:]
    assert result.stdout.strip() == f"{expected!r} length"


class LongestPlugin:
    """A third-party binarizer: the longest answer chosen, the shortest rejected."""

    @hookimpl
    def register_binarizers(self, register: RegisterBinarizer) -> None:
        def longest(answers: Answers, policy: PairPolicy) -> list[Pair] | str:
            order = sorted(range(len(answers.responses)), key=lambda k: len(answers.responses[k]))
            return [(order[-1], order[0])] if len(order) > 1 else "fewer_than_two_answers"

        register("longest", longest)


@pytest.fixture
def longest_plugin() -> Iterator[None]:
    pm = load_plugins()
    plugin = LongestPlugin()
    pm.register(plugin, name="longest-plugin")
    yield
    pm.unregister(plugin)


def test_builtin_binarizers_and_exporters_register_through_the_hooks() -> None:
    assert {"zephyr", "best_vs_worst", "all_pairs"} <= set(binarizers())
    assert {"hub", "parquet", "jsonl", "disk"} <= set(exporters())


@pytest.mark.usefixtures("longest_plugin")
def test_a_plugin_binarizer_is_used_by_name() -> None:
    row = {
        "prompt_id": "id",
        "prompt": "q",
        "completions": [
            {"model": "a", "response": "a much longer answer", "score": 2.0},
            {"model": "b", "response": "short", "score": 9.0},
        ],
    }
    with pytest.raises(ValueError, match="'longest' is not built in.*get_binarizer"):
        binarize([row], BinarizeOptions(strategy="longest"))
    options = BinarizeOptions(strategy="longest")
    (pair,) = binarize([row], options, strategy=get_binarizer("longest")).pairs.to_pylist()
    assert pair["chosen"][-1]["content"] == "a much longer answer"
    assert (pair["score_chosen"], pair["score_rejected"]) == (2.0, 9.0)


@pytest.mark.usefixtures("longest_plugin")
def test_two_plugins_claiming_one_binarizer_name_are_named() -> None:
    class Clash:
        @hookimpl
        def register_binarizers(self, register: RegisterBinarizer) -> None:
            register("longest", BUILTIN_BINARIZERS["zephyr"])

    pm = load_plugins()
    clash = Clash()
    pm.register(clash, name="clash-binarizer")
    try:
        with pytest.raises(DuplicateNameError, match="binarizer 'longest'.*clash-binarizer"):
            binarizers()
    finally:
        pm.unregister(clash)
