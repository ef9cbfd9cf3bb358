"""The `isp token` command (CONTRACT §2)."""

import typer
from isp_common.auth import Caller, TokenVerifier
from isp_common.cli import add_plugin_commands, app
from typer.testing import CliRunner

runner = CliRunner()


def test_the_printed_token_verifies_with_the_same_key_dir(tmp_path):
    key_dir = tmp_path / "keys"
    args = ["token", "--org", "CGL-WSX", "--role", "provider", "--role", "dsl"]
    result = runner.invoke(app, [*args, "--sub", "alice", "--key-dir", str(key_dir)])
    assert result.exit_code == 0, result.output
    caller = TokenVerifier.from_key_dir(key_dir).verify(result.stdout.strip())
    assert caller == Caller("alice", "CGL-WSX", frozenset({"provider", "dsl"}))


def test_the_key_dir_comes_from_isp_key_dir(tmp_path):
    key_dir = tmp_path / "from-env"
    result = runner.invoke(
        app,
        ["token", "--org", "WSCC-CSC", "--role", "social_care"],
        env={"ISP_KEY_DIR": str(key_dir)},
    )
    assert result.exit_code == 0, result.output
    assert TokenVerifier.from_key_dir(key_dir).verify(result.stdout.strip()).org == "WSCC-CSC"


def test_outside_the_repository_with_no_settings_no_key_is_made_in_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"ISP_KEY_DIR": None, "ISP_VAR_DIR": None, "ISP_CONFIG": None, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    result = runner.invoke(app, ["token", "--org", "CGL-WSX", "--role", "dsl"], env=env)
    assert result.exit_code == 1
    assert "cannot find the suite's signing key" in result.stderr and not result.stdout
    assert not (tmp_path / "var").exists()


def test_an_unknown_role_exits_2_naming_it(tmp_path):
    args = ["token", "--org", "CGL-WSX", "--role", "superuser", "--key-dir", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "superuser" in result.output
    assert "social_care" in result.output  # the roles one can choose from
    assert not result.stdout.strip()


def test_a_bad_organisation_id_exits_2(tmp_path):
    args = ["token", "--org", "cgl wsx", "--role", "dsl", "--key-dir", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "organisation" in result.output


def test_a_role_is_required(tmp_path):
    result = runner.invoke(app, ["token", "--org", "CGL-WSX", "--key-dir", str(tmp_path)])
    assert result.exit_code == 2


def test_other_packages_can_add_command_groups(monkeypatch):
    audit = typer.Typer()

    @audit.command()
    def verify() -> None:
        typer.echo("chain ok")

    class EntryPoint:
        name = "audit"

        def load(self):
            return audit

    monkeypatch.setattr("isp_common.cli.entry_points", lambda group: [EntryPoint()])
    isp = typer.Typer()
    isp.callback()(lambda: None)
    add_plugin_commands(isp)
    result = runner.invoke(isp, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "chain ok\n"
