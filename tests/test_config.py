"""Config: defaults, TOML round trip, and clear errors for bad values."""

from __future__ import annotations

import pytest

from assistant.config import Config, default_config_path, load_config, save_config
from assistant.errors import ConfigError


def test_missing_default_file_gives_defaults_and_honours_the_models_dir_env(isolated_home):
    config = load_config()
    assert config.asr.model == "whisper-tiny.en"
    assert config.models.dir == str(isolated_home / "models")
    assert default_config_path().is_relative_to(isolated_home / "config")


def test_saved_config_loads_back_identical(tmp_path, monkeypatch):
    monkeypatch.delenv("ASSISTANT_MODELS_DIR")
    config = Config()
    config.tts.speaking_rate = 1.3
    config.llm.system_prompt = 'Say "hi".\nTwo lines.'
    config.tts.speaker = 2
    path = save_config(config, tmp_path / "c.toml")
    assert load_config(path) == config


def test_unknown_key_names_the_valid_ones(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[asr]\nmodle = 'x'\n")
    with pytest.raises(ConfigError, match=r"asr\.modle.*valid keys.*model"):
        load_config(path)


def test_wrong_type_and_bad_choice_are_refused(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[llm]\ncontext_size = 'big'\n")
    with pytest.raises(ConfigError, match=r"llm\.context_size must be int"):
        load_config(path)
    path.write_text("[tts]\ndevice = 'gpu'\n")
    with pytest.raises(ConfigError, match="valid choices: auto, cpu, cuda"):
        load_config(path)


def test_broken_toml_names_the_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[asr\n")
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path)


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
