"""Connecting to Argilla with errors that name the URL (and never the API key)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pydantic import SecretStr

if TYPE_CHECKING:
    import argilla as rg


class ArgillaUnavailableError(RuntimeError):
    """Argilla is down, unreachable, or answered with a server error."""


class ArgillaAuthError(PermissionError):
    """Argilla rejected the API key, or the user may not do this."""


def connect(api_url: str, api_key: SecretStr | str, *, timeout: int = 60) -> rg.Argilla:
    """An SDK client, checked with one `GET /api/v1/me`."""
    import argilla as rg

    key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    with argilla_errors(api_url):
        return rg.Argilla(api_url=api_url, api_key=key, timeout=timeout, retries=1)


@contextmanager
def argilla_errors(api_url: str, what: str = "") -> Iterator[None]:
    """Turn SDK and transport errors into one clear line naming the URL (and `what`)."""
    import httpx
    from argilla._exceptions import ArgillaCredentialsError
    from argilla._exceptions._api import (
        ArgillaAPIError,
        ForbiddenError,
        InternalServerError,
        UnauthorizedError,
    )

    suffix = f" ({what})" if what else ""
    try:
        yield
    except (ArgillaCredentialsError, UnauthorizedError):
        raise ArgillaAuthError(f"Argilla at {api_url} rejected the API key{suffix}") from None
    except ForbiddenError:
        raise ArgillaAuthError(f"Argilla at {api_url}: this user may not do that{suffix}") from None
    except httpx.HTTPStatusError as exc:
        code = exc.response.status_code
        if code in (401, 403):
            raise ArgillaAuthError(
                f"Argilla at {api_url} refused the request: HTTP {code}{suffix}"
            ) from None
        raise ArgillaUnavailableError(
            f"Argilla at {api_url} answered HTTP {code}{suffix}"
        ) from None
    except (httpx.TransportError, InternalServerError) as exc:
        raise ArgillaUnavailableError(
            f"cannot reach Argilla at {api_url}: {type(exc).__name__}{suffix}"
        ) from None
    except ArgillaAPIError as exc:
        if isinstance(exc.__cause__, httpx.TransportError):
            raise ArgillaUnavailableError(f"cannot reach Argilla at {api_url}{suffix}") from None
        raise
