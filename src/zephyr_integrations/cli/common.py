"""What every `zephyr` sub-command shares: the Typer app, the error console, failing cleanly."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup
from typer.exceptions import Abort, TyperException

from zephyr_integrations.cli.errors import EXIT_UNAVAILABLE, EXIT_USAGE, describe
from zephyr_integrations.redact import redact_text

__all__ = ["EXIT_UNAVAILABLE", "EXIT_USAGE", "app", "err", "fail", "failure"]

err = Console(stderr=True)


def say_error(message: str) -> None:
    """One line on stderr: ``error: ...``, secrets masked, newlines folded."""
    line = " ".join(redact_text(str(message)).split()) or "failed"
    # The message is plain text: no markup, no :emoji: codes, whatever it quotes.
    err.print(f"[red]error:[/red] {escape(line)}", soft_wrap=True, highlight=False, emoji=False)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print one clear line on stderr and return the `typer.Exit` to raise."""
    say_error(message)
    return typer.Exit(code=code)


def failure(exc: BaseException, prefix: str = "") -> typer.Exit:
    """Print ``exc`` as one line (see `errors.describe`) and return the `typer.Exit` to raise."""
    message, code = describe(exc)
    return fail(prefix + message, code)


class OneLineErrors(TyperGroup):
    """The `zephyr` group: whatever goes wrong in a command ends as one line and an exit code
    (2 bad input, 3 a service is not there, 1 a bug); `ZEPHYR_DEBUG=1` re-raises instead."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except Abort:
            say_error("interrupted")
            code = 130
        except Exception as exc:
            if isinstance(exc, TyperException) and type(exc).__name__ == "NoArgsIsHelpError":
                _show_help(exc)  # `zephyr` or `zephyr annotate` alone: the help, as Typer shows it
                code = int(getattr(exc, "exit_code", EXIT_USAGE))
            elif not standalone_mode or os.environ.get("ZEPHYR_DEBUG"):
                raise
            else:
                message, code = describe(exc)
                say_error(message)
        else:
            # Without standalone mode, click returns a `typer.Exit`'s code as the result.
            code = result if isinstance(result, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def _show_help(exc: TyperException) -> None:
    try:
        from typer import rich_utils

        rich_utils.rich_format_error(exc)  # type: ignore[arg-type]
    except ImportError:  # Typer without rich
        exc.show()  # type: ignore[attr-defined]


app = typer.Typer(
    name="zephyr",
    cls=OneLineErrors,
    help="Zephyr-family models in LangChain, and DPO preference-data tooling.",
    no_args_is_help=True,
    add_completion=False,
)
