"""Contract helpers: TGI's OpenAPI spec as JSON Schema, and a tiny raw HTTP client.

The spec (``shared/tgi/openapi.json``, OpenAPI 3.0) marks optional values with ``nullable``;
JSON Schema spells that ``{"anyOf": [..., {"type": "null"}]}``, so the schemas are converted
once, keeping ``components`` beside each route's schema so that ``$ref``s resolve.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "tgi" / "openapi.json"
_NOT_JSON_SCHEMA = {"nullable", "example", "discriminator"}


def _to_json_schema(node: Any, *, names: bool = False) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema (``names``: ``node`` maps property names to schemas)."""
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if names:
        return {name: _to_json_schema(schema) for name, schema in node.items()}
    schema = {
        key: _to_json_schema(value, names=key == "properties")
        for key, value in node.items()
        if key not in _NOT_JSON_SCHEMA
    }
    return {"anyOf": [schema, {"type": "null"}]} if node.get("nullable") else schema


class Contract:
    """Validates bodies against TGI's OpenAPI document (``jsonschema``, draft 2020-12)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        import jsonschema

        self._jsonschema = jsonschema
        self.spec = spec
        self.components = _to_json_schema(spec["components"]["schemas"], names=True)

    def check(self, schema: dict[str, Any], instance: Any) -> None:
        document = {**_to_json_schema(schema), "components": {"schemas": self.components}}
        self._jsonschema.Draft202012Validator(document).validate(instance)

    def component(self, name: str, instance: Any) -> None:
        """``instance`` is a valid ``#/components/schemas/{name}``."""
        self.check({"$ref": f"#/components/schemas/{name}"}, instance)

    def request(self, path: str, body: Any) -> None:
        """``body`` is a valid request body for ``POST path``."""
        operation = self.spec["paths"][path]["post"]
        self.check(operation["requestBody"]["content"]["application/json"]["schema"], body)

    def response(self, method: str, path: str, status: int, media: str, body: Any) -> None:
        """``body`` (one SSE event's data for ``text/event-stream``) matches the spec."""
        responses = self.spec["paths"][path][method.lower()]["responses"]
        self.check(responses[str(status)]["content"][media]["schema"], body)


def load_contract() -> Contract | None:
    """The contract, or None when the spec is not beside the repository."""
    if not SPEC_PATH.is_file():
        return None
    return Contract(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def events(self) -> list[str]:
        """The data of each SSE event; asserts TGI's framing (``data: ``, blank-line ends)."""
        assert self.body.endswith(b"\n\n"), self.body[-80:]
        frames = self.body[:-2].split(b"\n\n")
        assert all(frame.startswith(b"data: ") for frame in frames), frames
        return [frame[len(b"data: ") :].decode("utf-8") for frame in frames]

    def json_events(self) -> list[Any]:
        return [json.loads(data) for data in self.events() if data != "[DONE]"]


def call(
    url: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request on a fresh connection (``body`` is sent as JSON unless ``raw`` is given)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        sent = {"Content-Type": "application/json"} if body is not None else {}
        sent.update(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        connection.request(method, path, data, sent)
        response = connection.getresponse()
        received = {name.lower(): value for name, value in response.getheaders()}
        return Reply(response.status, received, response.read())
    finally:
        connection.close()


def post(url: str, path: str, body: Any = None, **kwargs: Any) -> Reply:
    return call(url, "POST", path, body, **kwargs)


def get(url: str, path: str, **kwargs: Any) -> Reply:
    return call(url, "GET", path, **kwargs)
