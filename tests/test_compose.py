"""docker-compose.yml stays runnable: its commands exist in the CLI, its variables are settings."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import yaml

from livebot.cli import main
from pipeline.settings import env_names

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
LIVEBOT_SERVICES = {name: s for name, s in SERVICES.items() if s.get("command", [None])[0] == "livebot"}


def _resolve(args: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = main
    while isinstance(command, click.Group) and args and args[0] in command.commands:
        command, args = command.commands[args[0]], args[1:]
    return command, args


@pytest.mark.parametrize("name", sorted(LIVEBOT_SERVICES))
def test_every_service_command_parses_in_the_cli(name: str) -> None:
    command, rest = _resolve(list(LIVEBOT_SERVICES[name]["command"][1:]))
    assert command is not main, f"{name}: no such livebot command"
    assert not isinstance(command, click.Group), f"{name}: names a group, not a command"
    command.make_context(f"livebot {command.name}", list(rest))  # raises on unknown options or bad values


def test_every_livebot_variable_is_a_real_setting() -> None:
    known = env_names()
    used = {key for s in SERVICES.values() for key in (s.get("environment") or {}) if key.startswith("LIVEBOT_")}
    assert used, "compose sets no LIVEBOT_ variables"
    assert sorted(used - set(known)) == []


def test_production_parts_are_all_there() -> None:
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert {"postgres", "redis", "migrate"} <= set(SERVICES)
    consumed = {s["command"][2] for s in LIVEBOT_SERVICES.values() if s["command"][1] == "consume"}
    assert consumed == {"danmaku", "asr", "stock"}
    queues = {s["command"][3]: s for s in LIVEBOT_SERVICES.values() if s["command"][1] == "worker"}
    assert set(queues) == {"nlp", "llm", "io"}
    for model_queue in ("nlp", "llm"):
        devices = queues[model_queue]["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["capabilities"] == ["gpu"]
    for name, service in LIVEBOT_SERVICES.items():
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
