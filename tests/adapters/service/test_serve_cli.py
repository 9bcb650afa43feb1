"""``firewall serve``: options override the file; bad configuration exits 2 and says why."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from firewall.cli.serve import _settings, serve
from tests.adapters.rig import render_toml, service_config


def _invoke(*args: str) -> tuple[int, str]:
    app = typer.Typer()
    app.command()(serve)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_options_override_the_configuration(tmp_path: Path) -> None:
    config = service_config(f"sqlite:///{tmp_path / 'a.db'}", "http://127.0.0.1:9/")
    changed = _settings(
        config,
        db="sqlite:////elsewhere/b.db",
        host="0.0.0.0",  # noqa: S104
        port=0,
        redis="redis://127.0.0.1:6379/0",
        socket_mode=True,
    )
    assert changed.firewall.storage.approvals() == "sqlite:////elsewhere/b.db"
    assert changed.firewall.storage.audit() == "sqlite:////elsewhere/b.db"
    assert (changed.service.host, changed.service.port) == ("0.0.0.0", 0)  # noqa: S104
    assert changed.service.redis_url == "redis://127.0.0.1:6379/0"
    assert changed.slack is not None
    assert changed.slack.mode == "socket"
    assert changed.service.tokens == config.service.tokens


def test_without_options_the_file_decides(tmp_path: Path) -> None:
    config = service_config(f"sqlite:///{tmp_path / 'a.db'}", None)
    same = _settings(config, db=None, host=None, port=None, redis=None, socket_mode=False)
    assert same == config


def test_missing_config_file_exits_2_naming_it(tmp_path: Path) -> None:
    code, output = _invoke("--config", str(tmp_path / "nope.toml"))
    assert code == 2
    assert "nope.toml" in output
    assert "file not found" in output


def test_missing_slack_secret_exits_2_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    config = tmp_path / "firewall.toml"
    config.write_text(render_toml(f"sqlite:///{tmp_path / 'a.db'}", "http://127.0.0.1:9/"))
    code, output = _invoke("--config", str(config), "--port", "0")
    assert code == 2
    assert "SLACK_BOT_TOKEN is unset" in output
