"""The owner's password, API key and the server's session secret, kept in a 0600 file.

Generated once per data folder with `secrets` (never Argilla's documented defaults) and written
atomically (temp file in the same folder, then `os.replace`). Values are `SecretStr`, so they stay
out of reprs, logs and exceptions.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from zephyr_integrations.staging import atomic_file

OWNER_USERNAME = "owner"
OWNER_WORKSPACE = "argilla"


class CredentialsError(ValueError):
    """The credentials file is unreadable or malformed."""


class Credentials(BaseModel):
    model_config = ConfigDict(frozen=True)

    username: str = OWNER_USERNAME
    password: SecretStr
    api_key: SecretStr
    auth_secret_key: SecretStr  # ARGILLA_AUTH_SECRET_KEY: UI sessions survive restarts

    @classmethod
    def generate(cls) -> Credentials:
        return cls(
            password=SecretStr(secrets.token_urlsafe(18)),
            api_key=SecretStr("zephyr." + secrets.token_urlsafe(32)),
            auth_secret_key=SecretStr(secrets.token_hex(32)),
        )


def load_credentials(path: Path) -> Credentials | None:
    """The stored credentials, or None when the file does not exist."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot read the credentials: {exc.strerror}") from None
    try:
        return Credentials.model_validate(json.loads(raw))
    except (json.JSONDecodeError, ValidationError):
        raise CredentialsError(f"{path}: the credentials file is malformed") from None


def save_credentials(path: Path, credentials: Credentials) -> None:
    """Write the credentials readable by the user only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "username": credentials.username,
        "password": credentials.password.get_secret_value(),
        "api_key": credentials.api_key.get_secret_value(),
        "auth_secret_key": credentials.auth_secret_key.get_secret_value(),
    }
    with atomic_file(path, mode=0o600) as handle:
        json.dump(payload, handle, indent=2)


def load_or_create_credentials(path: Path) -> Credentials:
    existing = load_credentials(path)
    if existing is not None:
        return existing
    created = Credentials.generate()
    save_credentials(path, created)
    return created
