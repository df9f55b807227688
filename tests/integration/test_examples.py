"""Every example that needs no GPU runs as written (README and issue #8 promise it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

EXAMPLES: dict[str, tuple[list[str], str]] = {
    # name: (extra arguments, text the output must contain)
    "chain.py": (["What is the capital of France?"], "model:"),
    "streaming.py": (["Name a colour."], "async stream gave the same text: True"),
    "tgi_client.py": ([], "What is 2 + 2?"),
    "agent.py": (["What is the weather in Paris?"], ""),
    "preference_loop.py": ([], ""),
    "dpo_retrain.py": (["--steps", "2", "--batch-size", "2", "--max-length", "128"], ""),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_runs_as_written(name: str, tmp_path: Path) -> None:
    args, expected = EXAMPLES[name]
    if name == "preference_loop.py":
        args = [str(tmp_path / "loop")]
    run = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        check=False,
    )
    assert run.returncode == 0, f"{name} failed:\n{run.stderr[-3000:]}"
    assert expected in run.stdout + run.stderr


def test_every_example_is_run_here() -> None:
    on_disk = {p.name for p in (ROOT / "examples").glob("*.py")}
    assert on_disk == set(EXAMPLES), "add the new example to EXAMPLES (or say why it cannot run)"
