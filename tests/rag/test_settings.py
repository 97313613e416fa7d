from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.settings import load_settings


def test_env_sections_and_openai_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERCHAT_LLM_MODEL", "llama3")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("PAPERCHAT_CHROMA_URL", "http://127.0.0.1:8001")
    s = load_settings()
    assert s.llm.model == "llama3" and s.llm.base_url == "http://127.0.0.1:9/v1"
    assert s.llm.api_key is not None and s.llm.api_key.get_secret_value() == "sk-test"
    assert s.llm.configured and s.chroma_url == "http://127.0.0.1:8001"
    assert "sk-test" not in repr(s)


def test_paperchat_llm_base_url_wins_over_openai_base_url(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://a/v1")
    monkeypatch.setenv("PAPERCHAT_LLM_BASE_URL", "http://b/v1")
    assert load_settings().llm.base_url == "http://b/v1"


def test_toml_file_then_env_then_overrides(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('collection = "from-file"\n[retrieval]\nk = 7\n[llm]\nmodel = "file-model"\n')
    monkeypatch.setenv("PAPERCHAT_CONFIG", str(cfg))
    monkeypatch.setenv("PAPERCHAT_LLM_MODEL", "env-model")
    s = load_settings()
    assert (s.collection, s.retrieval.k, s.llm.model) == ("from-file", 7, "env-model")
    assert load_settings(collection="flag").collection == "flag"


def test_invalid_values_are_config_errors_naming_the_field(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERCHAT_RETRIEVAL_K", "0")
    with pytest.raises(ConfigError, match=r"retrieval\.k"):
        load_settings()


def test_missing_config_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("PAPERCHAT_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_settings()
