"""The one factory for OpenAI clients; honours base_url so any compatible server works."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

if TYPE_CHECKING:
    import openai


def _key(api_key: SecretStr | str | None) -> str:
    if isinstance(api_key, SecretStr):
        return api_key.get_secret_value()
    # Self-hosted servers (vLLM, llama.cpp, Ollama) accept any key; the SDK insists on one.
    return api_key or "not-needed"


def make_openai_client(*, base_url: str | None, api_key: SecretStr | str | None,
                       timeout: float, max_retries: int) -> openai.OpenAI:
    """A sync client for the endpoint."""
    import openai

    return openai.OpenAI(base_url=base_url, api_key=_key(api_key), timeout=timeout,
                         max_retries=max_retries)


def make_async_openai_client(*, base_url: str | None, api_key: SecretStr | str | None,
                             timeout: float, max_retries: int) -> openai.AsyncOpenAI:
    """An async client for the endpoint."""
    import openai

    return openai.AsyncOpenAI(base_url=base_url, api_key=_key(api_key), timeout=timeout,
                              max_retries=max_retries)
