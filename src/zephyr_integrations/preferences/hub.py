"""Uploading an exported Hub folder (data/ shards + README.md) as a dataset repository.

The token comes from the argument, else ``HF_TOKEN``, else huggingface_hub's stored login; it is
held as a `SecretStr` and never appears in a message, a repr or a log line.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import SecretStr


class HubPushError(RuntimeError):
    """The upload failed (the message never holds the token)."""


def hub_token(token: str | SecretStr | None = None) -> SecretStr | None:
    """The token to upload with: the one given, else ``HF_TOKEN``, else the stored login."""
    if isinstance(token, SecretStr):
        return token
    if token:
        return SecretStr(token)
    found = os.environ.get("HF_TOKEN")
    if not found:
        from huggingface_hub import get_token

        found = get_token()
    return SecretStr(found) if found else None


def check_hub_folder(folder: str | Path) -> Path:
    """The folder is what `write_hub_folder` makes: a README.md card and data/*.parquet."""
    folder = Path(folder)
    if not (folder / "README.md").is_file():
        raise HubPushError(f"{folder} has no README.md: export it with --format hub first")
    if not any((folder / "data").glob("*.parquet")):
        raise HubPushError(f"{folder}/data holds no Parquet shards: export it with --format hub")
    return folder


def _scrub(text: str, secret: SecretStr | None) -> str:
    value = secret.get_secret_value() if secret else ""
    return text.replace(value, "**********") if value else text


def push_to_hub(
    folder: str | Path,
    repo_id: str,
    *,
    token: str | SecretStr | None = None,
    private: bool = False,
    endpoint: str | None = None,
    commit_message: str = "Upload preference pairs (zephyr-integrations)",
) -> str:
    """Create the dataset repository if needed and upload the folder in one commit; return the
    commit's URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    folder = check_hub_folder(folder)
    secret = hub_token(token)
    if secret is None:
        raise HubPushError(
            "no Hugging Face token: set HF_TOKEN or run `hf auth login` (a write token)"
        )
    api = HfApi(endpoint=endpoint, token=secret.get_secret_value())
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type="dataset",
            commit_message=commit_message,
            allow_patterns=["README.md", "data/*.parquet"],
        )
    except (HfHubHTTPError, OSError, ValueError) as exc:
        message = _scrub(f"{type(exc).__name__}: {exc}", secret).splitlines()[0]
        raise HubPushError(f"upload of {folder} to dataset {repo_id!r} failed: {message}") from None
    return str(commit.commit_url)
