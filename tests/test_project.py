"""Meta-tests: the README stays true about commands and configuration."""

from __future__ import annotations

import re

import pytest

from pvd_survey import config
from pvd_survey.cli import build_parser
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.database_independent  # pure: run once, on SQLite (see conftest)

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_gives_the_two_commands_and_they_exist():
    assert "pip install -r requirements.txt && streamlit run streamlit_app.py" in README
    assert "bash run-tests.sh" in README
    assert (PROJECT_ROOT / "run-tests.sh").exists() and (PROJECT_ROOT / "streamlit_app.py").exists()
    ci = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "bash run-tests.sh" in ci and "PVD_TEST_DATABASE=postgresql bash run-tests.sh" in ci


def test_readme_names_every_cli_command():
    commands = build_parser()._subparsers._group_actions[0].choices
    missing = [name for name in commands if f"`{name}" not in README]
    assert missing == []


def test_readme_and_secrets_example_name_every_setting():
    source = (PROJECT_ROOT / "pvd_survey" / "config.py").read_text(encoding="utf-8")
    keys = set(re.findall(r'get\("(PVD_[A-Z0-9_]+)"\)', source))
    assert len(keys) >= 10
    assert keys == set(config.KNOWN_KEYS)  # a key read but not listed would be refused as unknown, and vice versa
    example = (PROJECT_ROOT / ".streamlit" / "secrets.toml.example").read_text(encoding="utf-8")
    assert [k for k in sorted(keys) if k not in README] == []
    assert [k for k in sorted(keys) if k not in example and k != "PVD_ARGON2_PROFILE"] == []


def test_streamlit_config_is_safe():
    import tomllib

    streamlit_config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert streamlit_config["theme"]["primaryColor"] == "#000091"
    assert streamlit_config["server"]["maxUploadSize"] <= 10
    assert streamlit_config["server"]["enableXsrfProtection"] is True
    assert streamlit_config["server"]["enableCORS"] is True
    assert streamlit_config["browser"]["gatherUsageStats"] is False
    gitignore = (PROJECT_ROOT / ".gitignore").read_text(encoding="utf-8")
    assert ".streamlit/secrets.toml" in gitignore and "db/*.sqlite3" in gitignore
    assert config.DEFAULT_SQLITE_PATH.parent == PROJECT_ROOT / "db"
