"""Session fixtures shared by the integration tests."""

from tests.integration.vllm_fixture import vllm

__all__ = ["vllm"]
