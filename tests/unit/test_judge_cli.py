"""`zephyr judge --judge NAME`: built-in judges and a third-party one found by entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.unit.test_collect_cli import JUDGE, run
from tests.unit.test_feedback import candidate
from tests.unit.test_judges import four

SIDE_BY_SIDE = "import:tests.unit.test_feedback_fakes:SideBySideJudge"


def write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_the_comparative_judge_by_name_and_a_miscount_in_one_line(tmp_path: Path) -> None:
    bad = four("Q-bad", ["one", "two MISCOUNT", "three"])
    source = write(tmp_path / "c.jsonl", [*bad, *four("Q-ok")])
    out = tmp_path / "j.jsonl"
    code, output = run(
        "judge", str(source), "-m", SIDE_BY_SIDE, "--judge", "ultrafeedback-comparative",
        "-O", "seed=3", "-o", str(out), "--no-progress",
    )  # fmt: skip
    assert code == 0, output
    assert "4 candidates rated by side-by-side-1, 0 from an earlier run, 0 not judged" in output
    failed = [line for line in output.splitlines() if line.startswith("failed:")]
    pid = bad[0]["prompt_id"][:12]
    assert len(failed) == 1, output  # the three answers of the prompt share one line
    assert failed[0].startswith(
        f"failed: {source}:1, {source}:2, {source}:3 (3 answers to prompt_id {pid}): "
        f"judge side-by-side-1: prompt {pid} (3 answers): the "
    )
    assert "reply rated 2 answers, not 3" in failed[0]
    judged = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["score"] for row in judged] == [None] * 3 + [2.0, 2.0, 5.0, 2.0]


def test_unknown_judges_and_options_are_one_line(tmp_path: Path) -> None:
    source = write(tmp_path / "c.jsonl", [candidate("Q", "a")])
    code, output = run("judge", str(source), "-m", JUDGE, "--judge", "nope", "-o", "j.jsonl")
    assert code == 2
    assert output.strip() == (
        "error: judge 'nope' is not registered; registered judges: reward-model, "
        "ultrafeedback, ultrafeedback-comparative (install the plugin that provides it)"
    )
    code, output = run("judge", str(source), "-m", JUDGE, "-O", "seed=3", "-o", "j.jsonl")
    assert code == 2 and len(output.strip().splitlines()) == 1
    assert output.startswith(
        f"error: --judge ultrafeedback: cannot be built with --model {JUDGE!r}"
    )
    assert "options seed" in output and "unexpected keyword argument 'seed'" in output
    code, output = run("judge", str(source), "-m", JUDGE, "-O", "seed", "-o", "j.jsonl")
    assert (code, output.strip()) == (2, "error: --option 'seed': expected KEY=VALUE")
    assert not (tmp_path / "j.jsonl").exists()


PLUGIN = '''
from zephyr_integrations.hookspecs import hookimpl
from zephyr_integrations.preferences.judging import Verdict


class Length:
    """Scores an answer by its length in words, at most ``cap``."""

    compares = False
    prompts_per_call = 8

    def __init__(self, model, cap=10):
        self.name = f"length:{model}"
        self.scale = {"low": 0.0, "high": float(cap), "meaning": "words in the answer"}
        self.cap = cap

    async def ajudge(self, prompts):
        return [
            [Verdict(float(min(self.cap, len(row["response"].split())))) for row in rows]
            for rows in prompts
        ]


@hookimpl
def register_judges(register):
    register("length", Length)
'''


def test_a_judge_installed_by_entry_point_runs_by_name(tmp_path: Path) -> None:
    (tmp_path / "zephyr_length_judge.py").write_text(textwrap.dedent(PLUGIN))
    dist = tmp_path / "zephyr_length_judge-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: zephyr-length-judge\nVersion: 0.1\n"
    )
    (dist / "entry_points.txt").write_text("[zephyr_integrations]\nlength = zephyr_length_judge\n")
    answers = ["one", "two words", "three words here", "a four word answer"]
    source = write(tmp_path / "c.jsonl", four("Q", answers))
    out = tmp_path / "j.jsonl"
    command = [sys.executable, "-m", "zephyr_integrations.cli", "judge", str(source)]
    options = ["-m", "words", "--judge", "length", "-O", "cap=3", "-o", str(out), "--no-progress"]
    result = subprocess.run(
        command + options,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "4 candidates rated by length:words" in result.stderr
    judged = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["score"] for row in judged] == [1.0, 2.0, 3.0, 3.0]
    assert all(row["judge"] == "length:words" and row["scale"]["high"] == 3.0 for row in judged)
    assert all("ratings" not in row and "judge_error" not in row for row in judged)
