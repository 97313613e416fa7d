"""Embeddings from any OpenAI-compatible `/v1/embeddings` endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.embedders.names import openai_name
from rag.errors import EmbedderError

if TYPE_CHECKING:
    import numpy as np

    from rag.settings import Settings


class OpenAIEmbedder:
    def __init__(self, settings: Settings) -> None:
        from rag.llm_client import make_openai_client

        es = settings.embed
        if not es.base_url and not settings.llm.base_url and not settings.llm.api_key:
            raise EmbedderError("embed.provider=openai needs PAPERCHAT_EMBED_BASE_URL "
                                "(or an LLM endpoint) to be set")
        self._client = make_openai_client(
            base_url=es.base_url or settings.llm.base_url,
            api_key=(es.api_key or settings.llm.api_key),
            timeout=settings.llm.timeout, max_retries=settings.llm.max_retries)
        self._model = es.model
        self._dim = es.dimensions
        self._batch = es.batch_size

    @property
    def name(self) -> str:
        return openai_name(self._model)

    @property
    def dimension(self) -> int:
        return self._dim

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        import numpy as np
        import openai

        out: list[list[float]] = []
        for start in range(0, len(texts), self._batch):
            batch = texts[start:start + self._batch]
            try:
                resp = self._client.embeddings.create(model=self._model, input=batch)
            except openai.OpenAIError as e:
                raise EmbedderError(f"embeddings endpoint {self._client.base_url} failed: "
                                    f"{type(e).__name__}") from e
            out.extend(d.embedding for d in sorted(resp.data, key=lambda d: d.index))
        arr = np.asarray(out, dtype=np.float32).reshape(len(texts), -1)
        if arr.shape[1] and arr.shape[1] != self._dim:
            raise EmbedderError(f"endpoint returned {arr.shape[1]}-d vectors, expected "
                                f"{self._dim}; set PAPERCHAT_EMBED_DIMENSIONS")
        norms = np.linalg.norm(arr, axis=1, keepdims=True)
        return arr / np.clip(norms, 1e-12, None)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]
