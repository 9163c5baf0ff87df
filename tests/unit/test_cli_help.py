"""The `tocsin` command line as people meet it: --version, a --help that lists every command
with examples, options that say what they do, and one-line errors instead of tracebacks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.cli import _parser, main, version
from tests.support import base_config

SUBCOMMANDS = ("run", "demo", "check", "secret", "db", "audit", "incident", "oncall", "alert")


def tocsin(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process, so its output and exit code are as people see."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def write_config(tmp_path: Path, url: str) -> Path:
    raw = base_config()
    raw["database"] = {"url": url}
    path = tmp_path / "tocsin.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_version_comes_from_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"tocsin {version()}"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", version())


def test_top_level_help_lists_every_command_with_a_summary_and_examples(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert re.search(rf"^\s+{name}\s+\S", text, re.MULTILINE), name
    for example in (
        "tocsin demo",
        "tocsin check config/tocsin.yaml",
        "tocsin db upgrade --config",
        "tocsin run --config",
    ):
        assert example in text


def _actions(parser: object) -> list[object]:
    return list(getattr(parser, "_actions", []))


def test_every_subcommand_and_option_has_help_text() -> None:
    missing: list[str] = []
    pending = [("tocsin", _parser())]
    while pending:
        name, parser = pending.pop()
        for action in _actions(parser):
            choices = getattr(action, "choices", None)
            if hasattr(action, "_name_parser_map"):
                helps = {a.dest: a.help for a in action._choices_actions}
                for sub, subparser in choices.items():
                    if not helps.get(sub):
                        missing.append(f"{name} {sub}")
                    pending.append((f"{name} {sub}", subparser))
            elif not action.help and name != "tocsin incident export":
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_check_takes_the_file_as_an_argument(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    done = tocsin("check", str(config))
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", "verify", "--config", "{config}"],
        ["incident", "export", "--config", "{config}", "1"],
    ],
)
def test_a_database_not_migrated_yet_is_said_in_one_line(tmp_path: Path, argv: list[str]) -> None:
    config = write_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    done = tocsin(*(arg.format(config=config) for arg in argv))
    assert done.returncode == 3
    assert "Traceback" not in done.stderr
    assert done.stderr.strip() == (
        "tocsin: the database has no Tocsin tables yet (or is behind): "
        f"run `tocsin db upgrade --config {config}`"
    )


def test_an_unreachable_database_is_named_without_its_password(tmp_path: Path) -> None:
    config = write_config(tmp_path, "postgresql+asyncpg://tocsin:s3cret-pw@127.0.0.1:1/tocsin")
    done = tocsin("audit", "verify", "--config", str(config))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "s3cret-pw" not in done.stderr
    assert "cannot reach the database postgresql+asyncpg://tocsin:***@127.0.0.1:1/tocsin" in (
        done.stderr
    )
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv", [["check", "{missing}"], ["audit", "verify", "--config", "{missing}"]]
)
def test_a_missing_config_file_is_a_configuration_error(tmp_path: Path, argv: list[str]) -> None:
    missing = tmp_path / "nope.yaml"
    done = tocsin(*(arg.format(missing=missing) for arg in argv))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{missing}: cannot read the file (No such file or directory)" in done.stderr


def test_wrong_usage_exits_2_with_the_usage(tmp_path: Path) -> None:
    done = tocsin("check")
    assert done.returncode == 2 and "tocsin check config/tocsin.yaml" in done.stderr
    assert tocsin("frobnicate").returncode == 2
