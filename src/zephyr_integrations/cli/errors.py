"""Any failure of a `zephyr` command as one line and a documented exit code.

2 means bad input (a file, a path, a name, a value, a model spec), 3 means a service is not
there (no server, no Argilla, a port in use, no network), 1 means a bug in zephyr itself. The
line never holds a secret: it goes through :func:`zephyr_integrations.redact.redact_text`.
"""

from __future__ import annotations

import errno
from typing import Any

from zephyr_integrations.errors import validation_line

EXIT_BUG = 1
EXIT_USAGE = 2  # bad input: a missing file, a wrong URL, a value out of range
EXIT_UNAVAILABLE = 3  # a service is not there (no server, no Argilla, port in use)

#: Errors that say a service (or the network) is not there, not that the input is wrong.
UNAVAILABLE_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EADDRINUSE,
        errno.EADDRNOTAVAIL,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.ETIMEDOUT,
    }
)
#: Exceptions (by class name, anywhere in the class's ancestry) that mean a service is down.
UNAVAILABLE_TYPES = frozenset(
    {
        "ArgillaUnavailableError",
        "ArgillaAuthError",
        "HubPushError",
        "StackError",
        "ServerInstallError",
        "TGIConnectionError",
        "ConnectError",  # httpx
        "ConnectTimeout",  # httpx
        "NetworkError",  # httpx
        "TimeoutException",  # httpx
        "ConnectionError",  # requests, builtins
        "OfflineModeIsEnabled",  # huggingface_hub
    }
)


def describe(exc: BaseException) -> tuple[str, int]:
    """The one-line message and exit code for ``exc``."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return validation_line(exc), EXIT_USAGE
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "UsageError" in names:  # click's (Typer vendors its own copy of click)
        return usage_line(exc), EXIT_USAGE
    if "ClickException" in names:
        return exc.format_message(), int(exc.exit_code)  # type: ignore[attr-defined]
    if (
        names & UNAVAILABLE_TYPES
        or isinstance(exc, TimeoutError)
        or (isinstance(exc, OSError) and exc.errno in UNAVAILABLE_ERRNOS)
    ):
        line = os_error_line(exc) if isinstance(exc, OSError) else str(exc)
        return line or type(exc).__name__, EXIT_UNAVAILABLE
    if isinstance(exc, UnicodeError):
        return f"input is not UTF-8 text: {exc}", EXIT_USAGE
    if isinstance(exc, OSError):
        return os_error_line(exc), EXIT_USAGE
    if isinstance(exc, (ValueError, TypeError, LookupError)):
        return str(exc) or type(exc).__name__, EXIT_USAGE
    return (
        f"unexpected {type(exc).__name__}: {exc} (a bug in zephyr: please report it; "
        "ZEPHYR_DEBUG=1 shows the traceback)",
        EXIT_BUG,
    )


def os_error_line(exc: OSError) -> str:
    """``PATH: what is wrong`` (a folder where a file is expected, no permission, ...)."""
    what = exc.strerror or str(exc)
    if exc.errno == errno.EISDIR:
        what = "is a folder, not a file"
    elif exc.errno == errno.ENOTDIR:
        what = "a part of the path is a file, not a folder"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        what = f"cannot write or read here ({exc.strerror})"
    if exc.filename is not None:
        return f"{exc.filename}: {what}"
    return what


def usage_line(exc: Any) -> str:
    """Click's usage error as one line naming the command: ``zephyr serve: Invalid value ...``."""
    where = exc.ctx.command_path if exc.ctx is not None else "zephyr"
    return f"{where}: {exc.format_message()} (see {where} --help)"
