"""Backends declare their options as value objects, and everything that builds a backend by
name (ChatZephyr, the model specs of `zephyr collect` / `zephyr judge`) goes through the plugin
registry: a third-party backend installed through the entry-point group works in
`zephyr collect -m its-name:...` with no special case."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import SecretStr

from zephyr_integrations import ChatZephyr
from zephyr_integrations.backends.declaration import BackendDeclaration
from zephyr_integrations.backends.hf_options import TransformersOptions
from zephyr_integrations.backends.remote_options import OpenAIOptions, TGIOptions
from zephyr_integrations.model_spec import parse_model_spec
from zephyr_integrations.plugins import backends, get_backend


def test_builtin_backends_declare_options_and_target() -> None:
    declared = backends()
    assert declared["transformers"].options is TransformersOptions
    assert declared["transformers"].target == "model"
    assert declared["tgi"].options is TGIOptions and declared["tgi"].target == "base_url"
    assert declared["openai"].options is OpenAIOptions
    assert declared["openai"].target == "base_url"
    docs = declared["tgi"].option_docs()
    assert "truncate" in docs and all(docs.values())  # every option documented


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: TransformersOptions(dtype="int4"), "dtype='int4' is invalid"),  # type: ignore[arg-type]
        (lambda: TransformersOptions(max_batch_size=0), "max_batch_size=0 is invalid"),
        (lambda: TransformersOptions(device=""), "device='' is invalid"),
        (lambda: TGIOptions("http://h:1", truncate="yes"), "truncate='yes' is invalid"),  # type: ignore[arg-type]
        (lambda: TGIOptions("ftp://h"), "base_url='ftp://h' is invalid"),
        (lambda: TGIOptions("http://h:1", timeout=-1), "timeout=-1 is invalid"),
        (lambda: OpenAIOptions("http://h:1", server_kind="ollama"), "server_kind='ollama'"),
        (lambda: OpenAIOptions("http://h:1", max_retries=-1), "max_retries=-1 is invalid"),
    ],
)
def test_option_values_are_validated_naming_the_field(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_options_are_value_objects_with_hidden_secrets() -> None:
    options = OpenAIOptions("http://a:1/v1|http://b:2/", api_key="sk-secret")
    assert options.replicas == ("http://a:1", "http://b:2")
    assert isinstance(options.api_key, SecretStr) and "sk-secret" not in repr(options)
    assert options == OpenAIOptions(["http://a:1", "http://b:2"], api_key="sk-secret")


def test_an_unknown_backend_option_names_it_and_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="'trunc' is not an option of backend 'tgi'.*truncate"):
        ChatZephyr(backend="tgi", base_url="http://127.0.0.1:9", backend_kwargs={"trunc": True})
    with pytest.raises(ValueError, match="'base_url' is not an option of backend 'transformers'"):
        get_backend("transformers")(model="x", base_url="http://127.0.0.1:9")


def test_replicas_in_a_model_spec_are_joined_with_a_bar() -> None:
    chat, _, _, _ = parse_model_spec("tgi:http://127.0.0.1:9|http://127.0.0.1:10,truncate=true")
    assert chat.base_url == ["http://127.0.0.1:9", "http://127.0.0.1:10"]
    assert chat._backend.options.replicas == ("http://127.0.0.1:9", "http://127.0.0.1:10")
    assert chat._backend.truncate is True


def test_a_bare_factory_declares_its_keywords() -> None:
    def factory(model: str | None = None, *, base_url: str, depth: int = 1) -> object:
        raise AssertionError("not built")

    declaration = BackendDeclaration.of(factory)
    assert declaration.target == "base_url" and declaration.option_names == ("base_url", "depth")


PLUGIN = '''
from dataclasses import dataclass, field

from zephyr_integrations.backends import Generation, TextDelta
from zephyr_integrations.backends.declaration import BackendDeclaration
from zephyr_integrations.hookspecs import hookimpl


@dataclass(frozen=True)
class ShoutOptions:
    """How the shouting backend answers."""

    prefix: str = field(default="", metadata={"doc": "put before every answer"})

    def __post_init__(self):
        if len(self.prefix) > 10:
            raise ValueError(f"prefix={self.prefix!r} is invalid: expected at most 10 characters")


class Shout:
    def __init__(self, model, **options):
        self.options = ShoutOptions(**options)
        self.model_name = f"shout-{model}"

    def _one(self, request):
        user = request.prompt.rsplit("<|user|>\\n", 1)[-1].split("</s>", 1)[0]
        text = self.options.prefix + user.upper() + f" seed={request.params.seed}"
        return Generation(text, "eos_token", 3, 2, self.model_name)

    def generate(self, requests):
        return [self._one(r) for r in requests]

    async def agenerate(self, requests):
        return self.generate(requests)

    def stream(self, request):
        generation = self._one(request)
        yield TextDelta(generation.text)
        yield TextDelta(generation=generation)

    async def astream(self, request):
        for delta in self.stream(request):
            yield delta


@hookimpl
def register_backends(register):
    register("shout", BackendDeclaration(Shout, ShoutOptions, "model", "answers in capitals"))
'''


@pytest.fixture
def shout_plugin(tmp_path: Path) -> dict[str, str]:
    """A third-party package advertising a backend under the entry-point group."""
    site = tmp_path / "site"
    (site / "zephyr_shout").mkdir(parents=True)
    (site / "zephyr_shout" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    dist = site / "zephyr_shout-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zephyr-shout\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[zephyr_integrations]\nshout = zephyr_shout\n")
    return {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "NO_COLOR": "1", "COLUMNS": "200"}


def zephyr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zephyr_integrations.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_third_party_backend_runs_in_zephyr_collect(
    shout_plugin: dict[str, str], tmp_path: Path
) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "hello there"}\n{"prompt": "dpo"}\n')
    out = tmp_path / "candidates.jsonl"
    spec = "shout:tiny,prefix=RE:,temperature=0.5,seed=7"
    result = zephyr(shout_plugin, "collect", str(prompts), "-m", spec, "-n", "2", "-o", str(out),
                    "--no-progress")  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["model"], r["sample"], r["response"]) for r in rows] == [
        ("shout-tiny", 0, "RE:HELLO THERE seed=7"),
        ("shout-tiny", 1, "RE:HELLO THERE seed=8"),
        ("shout-tiny", 0, "RE:DPO seed=7"),
        ("shout-tiny", 1, "RE:DPO seed=8"),
    ]
    bad = zephyr(shout_plugin, "collect", str(prompts), "-m", "shout:tiny,loud=1", "-o",
                 str(tmp_path / "x.jsonl"))  # fmt: skip
    assert bad.returncode == 2
    assert "'loud' is not a key of backend 'shout' (unknown key); valid keys: " in bad.stderr
    assert bad.stderr.rstrip().endswith("prefix") and bad.stderr.count("\n") == 1
    long = zephyr(shout_plugin, "collect", str(prompts), "-m", "shout:tiny,prefix=0123456789ab",
                  "-o", str(tmp_path / "x.jsonl"))  # fmt: skip
    assert long.returncode == 2 and "prefix='0123456789ab' is invalid" in long.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_a_third_party_backend_in_zephyr_chat(shout_plugin: dict[str, str]) -> None:
    answer = zephyr(shout_plugin, "chat", "hello", "--backend", "shout", "--model", "m",
                    "-b", "prefix=RE:")  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == "RE:HELLO seed=None"
    bad = zephyr(shout_plugin, "chat", "hello", "--backend", "shout", "-b", "loud=1")
    assert bad.returncode == 2 and "'loud' is not an option of backend 'shout'" in bad.stderr
    listed = zephyr(shout_plugin, "backends")
    assert listed.returncode == 0, listed.stderr
    assert "shout  (TARGET: model)  answers in capitals\n  prefix" in listed.stdout
    assert "put before every answer" in listed.stdout
    assert "tgi  (TARGET: base_url)" in listed.stdout and "  truncate " in listed.stdout


def test_capabilities_are_answered_without_reading_token_limits() -> None:
    """create_agent checks profile.get("structured_output") on every model call, async ones
    included: that must not wait on the server's /info."""
    from zephyr_integrations.backends.base import TokenLimits
    from zephyr_integrations.testing.scripted_backend import ScriptedBackend

    class Limited(ScriptedBackend):
        reads = 0

        def token_limits(self) -> TokenLimits:
            Limited.reads += 1
            return TokenLimits(100, 200)

    llm = ChatZephyr(backend=Limited())
    assert llm.profile is not None
    assert llm.profile.get("structured_output") is False and llm.profile["tool_calling"] is True
    assert Limited.reads == 0
    assert llm.profile["max_input_tokens"] == 100 and Limited.reads == 1
