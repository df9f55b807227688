"""`zephyr collect` and `zephyr judge` in-process: models given as import specs, clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zephyr_integrations.cli import app
from zephyr_integrations.model_spec import parse_model_spec

ECHO = "import:tests.unit.test_collect_fakes:echo_model"
JUDGE = "import:tests.unit.test_feedback_fakes:RuleJudge"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args], env={"COLUMNS": "200", "NO_COLOR": "1"})
    return result.exit_code, result.output


def test_collect_then_judge(tmp_path: Path) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(
        '{"prompt": "What is DPO?"}\n{"prompt": "say EMPTY"}\n{"prompt": "What is DPO?"}\n'
    )
    out, judged = tmp_path / "c.jsonl", tmp_path / "j.jsonl"
    code, output = run(
        "collect", str(prompts), "-m", f"{ECHO},temperature=0.5,seed=3,label=echo", "-m", ECHO,
        "-n", "2", "-o", str(out), "--no-progress",
    )  # fmt: skip
    assert code == 0, output
    assert f"duplicate prompt: {prompts}:3 repeats {prompts}:1 (collected once)" in output
    assert "8 candidates written, 0 from an earlier run; flagged: 4 empty_response" in output
    candidates = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(c["model"], c["sample"], c["params"]) for c in candidates[:4]] == [
        ("echo", 0, {"temperature": 0.5, "seed": 3}),
        ("echo", 1, {"temperature": 0.5, "seed": 4}),
        ("echo-model", 0, {}),
        ("echo-model", 1, {}),
    ]
    code, output = run("collect", str(prompts), "-m", ECHO, "-n", "2", "-o", str(out))
    assert code == 0 and "0 candidates written, 8 from an earlier run" in output  # (other labels)

    code, output = run("judge", str(out), "-m", JUDGE, "-o", str(judged), "--no-progress")
    assert code == 0, output
    assert "4 candidates rated by rule-judge-1, 0 from an earlier run, 4 not judged" in output
    assert sum("ratings" in json.loads(line) for line in judged.read_text().splitlines()) == 4


OK = '{"prompt": "ok"}\n'


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (OK + '{"prompt": 5}\n', ["-m", ECHO], "p.jsonl:2: 'prompt' must be a string, got int"),
        (OK, ["-m", "nosuch:x"], "'nosuch' is not a registered backend; expected KIND:TARGET"),
        (OK, ["-m", "openai:gpt-4"], "base_url='gpt-4' is invalid"),
        (OK, ["-m", "tgi"], "expected KIND:TARGET with KIND a backend (openai, tgi, transformers"),
        (
            OK,
            ["-m", "tgi:http://127.0.0.1:9,trunc=true"],
            "'trunc' is not a key of backend 'tgi' (unknown key); valid keys: label, n, ",
        ),
        (OK, ["-m", "tgi:http://127.0.0.1:9,truncate=3"], "truncate=3 is invalid"),
        (
            OK,
            ["-m", "tgi:http://127.0.0.1:9,base_url=http://x"],
            "'base_url' is not a key of backend 'tgi' (TARGET gives it)",
        ),
        (OK, ["-m", "transformers:./m,dtype=int3"], "dtype='int3' is invalid"),
        (OK, ["-m", "tgi:http://127.0.0.1:9,temperature=-1"], "temperature=-1 is invalid"),
        (OK, ["-m", "openai:http://127.0.0.1:9,top_p=2"], "top_p=2 is invalid"),
        (OK, ["-m", "openai:http://127.0.0.1:9,seed=-3"], "seed=-3 is invalid"),
        (OK, ["-m", "openai:http://127.0.0.1:9,timeout=0"], "timeout=0 is invalid"),
        (OK, ["-m", "openai:http://127.0.0.1:9,max_retries=-1"], "max_retries=-1 is invalid"),
        (OK, ["-m", "openai:http://127.0.0.1:9,server_kind=x"], "server_kind='x' is invalid"),
        (OK, ["-m", f"{ECHO},temperature"], "'temperature' is not key=value"),
        (OK, ["-m", f"{ECHO},n=0"], "n=0 must be a positive integer"),
        (OK, ["-m", "import:tests.nowhere:x"], "cannot import 'x' from tests.nowhere"),
        (OK, ["-m", "transformers:/no/such/folder"], "'/no/such/folder' does not exist"),
        (OK, ["-m", ECHO, "-n", "0"], "Invalid value for '-n'"),
    ],
)
def test_collect_errors_are_one_line(
    tmp_path: Path, content: str, args: list[str], message: str
) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(content)
    code, output = run("collect", str(prompts), *args, "-o", str(tmp_path / "o.jsonl"))
    assert code == 2
    assert message in output and output.startswith("error:") and output.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl"]  # nothing written


def test_judge_errors(tmp_path: Path) -> None:
    code, output = run("judge", str(tmp_path / "none.jsonl"), "-m", JUDGE, "-o", "j.jsonl")
    assert (code, output.strip()) == (2, f"error: {tmp_path / 'none.jsonl'}: no such file")
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"prompt": "x"}\n')
    code, output = run("judge", str(bad), "-m", f"{JUDGE},temperature=0", "-o", "j.jsonl")
    assert code == 2 and "set temperature on the imported model itself" in output


def test_model_specs_build_chat_zephyr_without_loading() -> None:
    chat, params, label, n = parse_model_spec(
        "tgi:http://127.0.0.1:9,temperature=0.7,top_p=0.9,label=z,n=3"
    )
    assert (type(chat).__name__, chat.base_url, params, label, n) == (
        "ChatZephyr", "http://127.0.0.1:9", {"temperature": 0.7, "top_p": 0.9}, "z", 3
    )  # fmt: skip
    judge, params, _, _ = parse_model_spec(
        "tgi:http://127.0.0.1:9,temperature=0", params_on_model=True
    )
    assert params == {} and judge.temperature == 0
