"""Helpers for testing and CPU development: offline tiny models (and, later, a TGI server)."""

from zephyr_integrations.testing.tiny_model import make_tiny_zephyr

__all__ = ["make_tiny_zephyr"]
