"""What every `zephyr` sub-command shares: the Typer app, the error console, failing cleanly."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(
    name="zephyr",
    help="Zephyr-family models in LangChain, and DPO preference-data tooling.",
    no_args_is_help=True,
    add_completion=False,
)
err = Console(stderr=True)

#: Exit codes a script can rely on.
EXIT_USAGE = 2  # bad input: a missing file, a wrong URL, a value out of range
EXIT_UNAVAILABLE = 3  # a service is not there (no server, no Argilla, port in use)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print one clear line on stderr and return the `typer.Exit` to raise."""
    # The message is plain text: no markup, no :emoji: codes, whatever it quotes.
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False, emoji=False)
    return typer.Exit(code=code)
