"""Helpers for testing and CPU development: offline tiny models, a scripted backend, and a server
that speaks TGI's protocol. Nothing here imports torch until a tiny model is built."""

from zephyr_integrations.testing.scripted_backend import ScriptedBackend
from zephyr_integrations.testing.tgi_server import RecordedRequest, TGIServer
from zephyr_integrations.testing.tiny_model import make_tiny_zephyr

__all__ = ["RecordedRequest", "ScriptedBackend", "TGIServer", "make_tiny_zephyr"]
