"""`zephyr serve` and `zephyr chat`: the serving half on the command line."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Annotated, Any

import typer

from zephyr_integrations.cli.common import app, err, fail, failure


@app.command()
def serve(
    model: Annotated[
        str | None,
        typer.Option(help="Model folder or Hub id (default: Zephyr if cached, else SmolLM2)."),
    ] = None,
    backend: Annotated[str, typer.Option(help="Backend that generates.")] = "transformers",
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0 picks a free one).")] = 8080,
    dtype: Annotated[str, typer.Option(help="Weights dtype (transformers).")] = "auto",
    max_input_tokens: Annotated[int, typer.Option(help="Longest prompt accepted.")] = 4095,
    max_total_tokens: Annotated[int, typer.Option(help="Prompt plus answer budget.")] = 4096,
    payload_limit: Annotated[
        int, typer.Option(min=1, help="Largest request body in bytes (413 above it, as TGI).")
    ] = 2_000_000,
    backend_option: Annotated[
        list[str] | None,
        typer.Option("--backend-option", "-b", help="KEY=VALUE for the backend; repeatable."),
    ] = None,
) -> None:
    """Serve a model over TGI's HTTP protocol (and OpenAI's /v1/completions).

    Example: zephyr serve --model ./tiny-zephyr --port 8080, then
    ChatZephyr(backend="tgi", base_url="http://127.0.0.1:8080").
    """
    from zephyr_integrations.local_models import default_model
    from zephyr_integrations.model_spec import parse_options
    from zephyr_integrations.plugins import get_backend
    from zephyr_integrations.serving import TGIServer

    if not 0 < max_input_tokens < max_total_tokens:
        raise fail(
            f"--max-input-tokens {max_input_tokens} must be at least 1 and below "
            f"--max-total-tokens {max_total_tokens}"
        )
    try:
        declaration = get_backend(backend)
        options = parse_options(backend_option or [], "--backend-option")
        if "dtype" in (declaration.option_names or ("dtype",)):
            options.setdefault("dtype", dtype)
        remote = declaration.target == "base_url"
        name = model or (None if remote else default_model())
        engine = declaration(model=name, **options)
        name = name or engine.model_name
        server = TGIServer(
            engine,
            model_id=name,
            host=host,
            port=port,
            max_input_tokens=max_input_tokens,
            max_total_tokens=max_total_tokens,
            payload_limit=payload_limit,
        )
        server.start()
    except OSError as exc:  # a port in use is exit 3, a bad address exit 2
        raise failure(exc, f"cannot serve on {host}:{port}: ") from exc
    except ValueError as exc:
        raise failure(exc) from exc
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())  # before the URL is announced
    err.print(f"serving [bold]{name}[/bold] over the TGI protocol at [bold]{server.url}[/bold]")
    try:
        # Woken now and then: a signal delivered to a server thread runs its Python handler
        # only when the main thread runs bytecode, which a bare wait() never does.
        while not stopped.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@app.command()
def chat(
    question: Annotated[str, typer.Argument(help="What to ask.")],
    model: Annotated[str | None, typer.Option(help="Model folder or Hub id.")] = None,
    backend: Annotated[
        str, typer.Option(help="transformers, tgi, openai, or a plugin's.")
    ] = "transformers",
    base_url: Annotated[
        str | None,
        typer.Option(help="The server of a remote backend (replicas joined with |)."),
    ] = None,
    backend_option: Annotated[
        list[str] | None,
        typer.Option("--backend-option", "-b", help="KEY=VALUE for the backend; repeatable."),
    ] = None,
    system: Annotated[str | None, typer.Option(help="A system prompt.")] = None,
    max_tokens: Annotated[int, typer.Option(help="Most tokens to generate.")] = 256,
    temperature: Annotated[float, typer.Option(help="0 is greedy.")] = 0.0,
) -> None:
    """Ask a question and stream the answer.

    Example: zephyr chat "What is DPO?" --backend tgi --base-url http://127.0.0.1:8080
    """
    from zephyr_integrations import ChatZephyr
    from zephyr_integrations.local_models import default_model
    from zephyr_integrations.model_spec import parse_options
    from zephyr_integrations.plugins import get_backend

    messages = ([("system", system)] if system else []) + [("user", question)]
    try:
        remote = get_backend(backend).target == "base_url"
        name = model or (None if remote else default_model())
        options: dict[str, Any] = {"model": name} if name else {}
        llm = ChatZephyr(
            backend=backend,
            backend_kwargs=parse_options(backend_option or [], "--backend-option"),
            base_url=base_url.split("|") if base_url and "|" in base_url else base_url,
            max_new_tokens=max_tokens,
            temperature=temperature,
            **options,
        )
        for chunk in llm.stream(messages):
            sys.stdout.write(str(chunk.content))
            sys.stdout.flush()
    except (ValueError, OSError, TimeoutError) as exc:
        raise failure(exc) from exc
    sys.stdout.write("\n")


@app.command()
def backends() -> None:
    """List the registered backends, what TARGET names for each, and their options.

    Built-in and plugins' backends; use them as -m KIND:TARGET,option=value or --backend-option.
    """
    from zephyr_integrations.plugins import backends as registered

    lines = []
    for name, declaration in sorted(registered().items()):
        lines.append(f"{name}  (TARGET: {declaration.target})  {declaration.summary}".rstrip())
        docs = declaration.option_docs() if declaration.option_names is not None else {}
        if declaration.option_names is None:
            lines.append("  any keyword option")
        for option, doc in docs.items():
            lines.append(f"  {option:<18} {doc}".rstrip())
    sys.stdout.write("\n".join(lines) + "\n")
