"""Settings: TOML loading, typos fail, overrides merge section by section."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.config import DEFAULT_CONFIG, Settings
from rag.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_default_config_file_is_valid_and_matches_the_defaults():
    assert DEFAULT_CONFIG.exists()
    from_file = Settings.from_toml(DEFAULT_CONFIG)
    assert from_file.model_dump(exclude={"store"}) == Settings().model_dump(exclude={"store"})
    assert Settings.from_toml() == from_file


@pytest.mark.parametrize(
    "text",
    [
        "[chunk]\nmax_token = 100\n",  # typo of max_tokens
        "[retreive]\nk = 3\n",  # typo of a section
        "k = 3\n",  # k lives in [retrieve]
        "[llm]\nprovider = 'gpt'\n",
        "[chunk]\nmax_tokens = 1000\n",  # the embedder reads 256
        "[retrieve]\nk = 'four'\n",
    ],
)
def test_invalid_config_fails_at_load(tmp_path, text):
    with pytest.raises(ValidationError):
        Settings.from_toml(write(tmp_path, text))


def test_bad_toml_syntax_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="invalid TOML in .*config.toml"):
        Settings.from_toml(write(tmp_path, "[chunk\nmax_tokens = 1\n"))


def test_file_values_and_overrides_merge(tmp_path):
    path = write(tmp_path, "[retrieve]\nk = 7\nmin_score = 0.4\n[llm]\nmax_tokens = 64\n")
    settings = Settings.from_toml(path, retrieve={"min_score": 0.1}, store={"path": tmp_path})
    assert settings.retrieve.k == 7  # kept from the file
    assert settings.retrieve.min_score == 0.1  # overridden
    assert settings.retrieve.candidates == 30  # default
    assert settings.llm.max_tokens == 64
    assert settings.store_path == tmp_path


def test_none_overrides_are_ignored(tmp_path):
    path = write(tmp_path, "[retrieve]\nk = 7\n")
    assert Settings.from_toml(path, retrieve=None).retrieve.k == 7


def test_with_overrides_returns_a_new_copy():
    base = Settings()
    changed = base.with_overrides(chunk={"max_tokens": 100})
    assert changed.chunk.max_tokens == 100 and changed.chunk.overlap_sentences == 1
    assert base.chunk.max_tokens == 200
    with pytest.raises(ValidationError):
        base.with_overrides(chunk={"size": 100})


def test_settings_are_frozen():
    with pytest.raises(ValidationError):
        Settings().chunk.max_tokens = 10  # type: ignore[misc]


def test_missing_config_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file not found"):
        Settings.from_toml(tmp_path / "nope.toml")


def test_config_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSQA_CONFIG", str(write(tmp_path, "[retrieve]\nk = 9\n")))
    assert Settings.from_toml().retrieve.k == 9


def test_store_path(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSQA_STORE", str(tmp_path / "env-store"))
    assert Settings().store_path == tmp_path / "env-store"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Settings.from_toml(store={"path": "~/s"}).store_path == tmp_path / "s"


def test_wide_config_is_the_default_with_a_larger_passage_budget():
    default = Settings.from_toml(DEFAULT_CONFIG)
    wide = Settings.from_toml(DEFAULT_CONFIG.with_name("wide.toml"))
    assert wide.answer.context_tokens > default.answer.context_tokens
    budget = {"context_tokens": default.answer.context_tokens}
    assert wide.with_overrides(answer=budget) == default
