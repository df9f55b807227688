"""Serving models over HTTP: ``zephyr serve``'s TGI-protocol server (TGI's native routes,
``/v1/chat/completions``, and ``/v1/completions`` as vLLM answers it), on the standard library.

One job per module: :mod:`.transport` (HTTP and SSE), :mod:`.tgi_requests` (deserialization),
:mod:`.tgi_validation`, :mod:`.tgi_bodies` (responses), :mod:`.protocol_errors`,
:mod:`.token_events` (a backend's output as tokens), :mod:`.grammar` (constrained decoding),
:mod:`.openai_protocol` and :mod:`.completions_route` (OpenAI completions), :mod:`.server`
(routing and slots). Fault injection for tests: :mod:`zephyr_integrations.testing`.
"""

from zephyr_integrations.serving.server import TGIServer

__all__ = ["TGIServer"]
