"""The README's promises: two commands first, and a configuration table that matches the settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.settings import Settings, env_names

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_first_code_block_is_the_run_command_then_the_test_command() -> None:
    block = README.split("```", 2)[1].strip().splitlines()
    assert len(block) == 2
    run, test = block
    for command in block:
        assert command.startswith("python3.11 -m venv .venv && .venv/bin/pip install")
    assert run.endswith(".venv/bin/livebot run")
    assert "pytest" in test and "[test]" in test


def test_configuration_table_lists_every_setting_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `(LIVEBOT_[A-Z0-9_]+)` \| `([^`]*)` \|", README, flags=re.M))
    assert set(rows) == set(env_names())
    for env, field in env_names().items():
        assert rows[env] == str(Settings.model_fields[field].default), env


SQL_EXAMPLES = re.findall(r'^\.venv/bin/livebot sql "(.+)"$', README, flags=re.M)


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_every_sql_example_in_the_readme_runs(dialect: str, request: pytest.FixtureRequest) -> None:
    from sqlalchemy import text

    from pipeline.storage import make_engine, upgrade

    url = request.getfixturevalue("sqlite_url" if dialect == "sqlite" else "postgres_url")
    upgrade(url)
    assert len(SQL_EXAMPLES) >= 3
    with make_engine(url).connect() as conn:
        for query in SQL_EXAMPLES:
            conn.execute(text(query)).fetchall()
