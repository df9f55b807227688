from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage, RemoveMessage
from pydantic import ValidationError

from zephyr_integrations import ChatZephyr
from zephyr_integrations.backends.base import GenerationParams, InvalidParameterError
from zephyr_integrations.backends.transformers import ModelNotFoundError, TransformersBackend
from zephyr_integrations.template import MessageFormatError, UnsupportedContentError


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", -0.1),
        ("temperature", 1e6),
        ("temperature", float("nan")),
        ("max_tokens", 0),
        ("max_tokens", -5),
        ("max_tokens", 10**12),
        ("top_p", 0.0),
        ("top_p", 1.5),
        ("top_k", 0),
        ("repetition_penalty", 0),
        ("seed", -1),
        ("timeout", 0),
        ("timeout", -3),
    ],
)
def test_absurd_fields_are_refused_at_construction_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field.replace("max_tokens", "max_(new_)?tokens")):
        ChatZephyr(**{field: value})


def test_stop_must_be_non_empty_strings() -> None:
    with pytest.raises(ValidationError, match=r"stop\[1\]"):
        ChatZephyr(stop=["ok", ""])
    with pytest.raises(InvalidParameterError, match="at most"):
        GenerationParams(stop=tuple(str(i) for i in range(100)))


def test_bad_runtime_parameters_are_refused_before_generation() -> None:
    chat = ChatZephyr()  # the default Hub id: constructing never loads it
    with pytest.raises(InvalidParameterError, match="temperature"):
        chat.invoke("hi", temperature=-1)
    with pytest.raises(TypeError, match="unknown generation parameter.*frequency_penality"):
        chat.invoke("hi", frequency_penality=1)


def test_bad_messages_are_refused_before_generation() -> None:
    chat = ChatZephyr()
    with pytest.raises(MessageFormatError, match="empty"):
        chat.invoke([])
    with pytest.raises(MessageFormatError, match="'remove'"):
        chat.invoke([RemoveMessage(id="x")])
    with pytest.raises(UnsupportedContentError, match="text-only"):
        chat.invoke([HumanMessage(content=[{"type": "image", "url": "http://x/y.png"}])])


def test_model_path_that_does_not_exist_is_named() -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        ChatZephyr(model="./no/such/model")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        ChatZephyr(model="/definitely/not/here")


def test_folder_without_a_model_is_named(tmp_path: Any) -> None:
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        TransformersBackend(str(tmp_path))


def test_unknown_backend_lists_the_registered_ones() -> None:
    with pytest.raises(ValidationError, match=r"backend 'vllm' is not registered.*transformers"):
        ChatZephyr(backend="vllm")


def test_backend_options_are_checked() -> None:
    with pytest.raises(ValidationError, match="dtype='float8'"):
        ChatZephyr(backend_kwargs={"dtype": "float8"})


def test_constructing_does_not_import_torch_or_load_weights() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from zephyr_integrations import ChatZephyr\n"
        "for _ in range(10): ChatZephyr(model='HuggingFaceH4/zephyr-7b-beta')\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_ls_params_and_identifying_params() -> None:
    chat = ChatZephyr(temperature=0.5, max_tokens=7, stop=["x"])
    ls = chat._get_ls_params()
    assert ls == {
        "ls_provider": "huggingface",
        "ls_model_name": "HuggingFaceH4/zephyr-7b-beta",
        "ls_model_type": "chat",
        "ls_temperature": 0.5,
        "ls_max_tokens": 7,
        "ls_stop": ["x"],
        "ls_backend": "transformers",
    }
    assert chat._get_ls_params(stop=["y"], max_tokens=3)["ls_max_tokens"] == 3
    assert ChatZephyr(max_new_tokens=9, model_name="a/b", stop_sequences=["z"]).max_tokens == 9
