"""README.md stays true: its set-up commands, and every command, script and file it names."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from zephyr_integrations.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CODE_BLOCKS = re.findall(r"```(?:bash|sh|console)\n(.*?)```", README, flags=re.S)


def zephyr_commands() -> list[list[str]]:
    found = []
    for block in CODE_BLOCKS:
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            match = re.match(r"^(?:\.venv/bin/)?zephyr (.*)$", line)
            if match:
                found.append(shlex.split(match.group(1)))
    return found


def test_readme_starts_with_the_two_setup_commands_and_ci_runs_the_second() -> None:
    first = CODE_BLOCKS[0].strip().splitlines()
    assert first == [
        "./scripts/setup && .venv/bin/zephyr quickstart --auto",
        "./scripts/setup && .venv/bin/python -m pytest",
    ]
    assert first[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert README.index("```") < README.index("\n## "), "the commands come before any section"


def test_every_zephyr_command_in_the_readme_exists_with_its_options() -> None:
    commands = zephyr_commands()
    assert len(commands) >= 8
    root = typer.main.get_command(app)
    for argv in commands:
        context = root.make_context("zephyr", list(argv), resilient_parsing=True)
        _, command, rest = root.resolve_command(context, list(argv))
        assert command is not None, f"README shows `zephyr {shlex.join(argv)}`: no such command"
        if hasattr(command, "resolve_command"):  # a group: annotate
            _, command, rest = command.resolve_command(context, rest)
        known = {opt for param in command.params for opt in getattr(param, "opts", [])}
        known |= {o for p in command.params for o in getattr(p, "secondary_opts", [])}
        for word in rest:
            if word.startswith("--"):
                flag = word.split("=")[0]
                assert flag in known, f"`zephyr {shlex.join(argv)}`: {flag} is not an option"


NAMED_FILES = re.findall(r"\b((?:examples|benchmarks|scripts|annotation)/[\w./-]+\w)", README)


@pytest.mark.parametrize("path", sorted(set(NAMED_FILES)))
def test_every_file_the_readme_names_exists(path: str) -> None:
    assert (ROOT / path).exists(), f"README names {path}, which does not exist"
