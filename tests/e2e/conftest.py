"""The shared local Argilla stack (see tests/integration/argilla/stack_fixture.py)."""

from tests.integration.argilla.stack_fixture import argilla_stack, owner

__all__ = ["argilla_stack", "owner"]
