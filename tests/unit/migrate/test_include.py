"""`include:` merges on-call sections from other files, and never lets one overwrite another."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.errors import ConfigError
from bot.settings.loader import load_document, load_settings
from tests.support import base_config

SCHEDULE = {"rotations": [{"name": "w", "participants": ["alice"], "start": "2027-01-04T09:00"}]}


def write(path: Path, doc: object) -> Path:
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_included_sections_are_merged(tmp_path: Path) -> None:
    write(
        tmp_path / "more.yaml",
        {
            "users": [{"id": "zed", "name": "Zed"}],
            "schedules": {"extra": SCHEDULE},
            "groups": {"pair": ["alice", "zed"]},
            "routes": [{"name": "z", "destinations": ["fake:z"]}],
        },
    )
    main = base_config(schedules={"own": SCHEDULE}, include=["more.yaml"])
    settings = load_settings(write(tmp_path / "tocsin.yaml", main))
    assert [u.id for u in settings.users] == ["alice", "bob", "carol", "zed"]
    assert set(settings.schedules) == {"own", "extra"}
    assert settings.groups == {"pair": ("alice", "zed")}
    assert [r.name for r in settings.routes] == ["payments", "ops", "z"]


def test_a_name_in_both_files_is_an_error_not_an_overwrite(tmp_path: Path) -> None:
    write(tmp_path / "more.yaml", {"schedules": {"own": SCHEDULE}})
    main = write(
        tmp_path / "tocsin.yaml", base_config(schedules={"own": SCHEDULE}, include="more.yaml")
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(main)
    assert caught.value.problems == [
        "include.0: more.yaml: schedules.own is also in tocsin.yaml (rename one; an include "
        "never overwrites)"
    ]


def test_only_on_call_sections_may_be_included(tmp_path: Path) -> None:
    write(tmp_path / "more.yaml", {"tocsin": {"secret_key": "x" * 20}, "users": {"a": 1}})
    main = write(tmp_path / "tocsin.yaml", base_config(include=["more.yaml"]))
    with pytest.raises(ConfigError) as caught:
        load_settings(main)
    assert caught.value.problems == [
        "include.0: more.yaml: 'tocsin' cannot be included (an included file holds only users, "
        "groups, schedules, escalation_policies, routes)",
        "include.0: more.yaml: users has the wrong shape",
    ]


def test_a_missing_file_or_a_bad_list_is_named(tmp_path: Path) -> None:
    main = write(tmp_path / "tocsin.yaml", base_config(include=["nowhere.yaml"]))
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: cannot read the file"):
        load_settings(main)
    write(main, base_config(include={"a": 1}))
    with pytest.raises(ConfigError, match="include: a list of file names"):
        load_settings(main)


def test_a_file_can_be_left_out(tmp_path: Path) -> None:
    write(tmp_path / "more.yaml", {"schedules": {"extra": SCHEDULE}})
    main = write(tmp_path / "tocsin.yaml", base_config(include=["more.yaml"]))
    assert "schedules" not in load_document(main, leave_out=tmp_path / "more.yaml")
    assert "extra" in load_document(main)["schedules"]
