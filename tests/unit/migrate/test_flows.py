"""The import end to end with a tool of our own: the plan writes nothing, --apply writes the
file and includes it, a second run changes nothing, a changed tool needs --replace, and a
failure leaves every file as it was."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.migrate.catalog import Catalog, Layer, Rota, Shift
from bot.migrate.flows import Origin, Request, run_import, shadow
from bot.migrate.reader import ImportFailed
from bot.settings.loader import load_settings
from tests.unit.migrate.harness import tocsin_config
from tests.unit.migrate.stub import StubTool, at, story

NOW = at(7, 12)


def setup(tmp_path: Path) -> tuple[Path, Path, Origin]:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "people.json").write_text("[]")
    return tocsin_config(tmp_path), tmp_path / "oncall-stub.yaml", Origin(folder=str(folder))


async def run(
    tool: StubTool, origin: Origin, config: Path, out: Path, *, apply: bool, replace: bool = False
) -> tuple[int, str]:
    said: list[str] = []
    request = Request(config=config, out=out, now=NOW, replace=replace)
    code = await run_import(
        tool, origin, request, apply=apply, command="tocsin import stub", say=said.append
    )
    return code, "\n".join(said)


async def test_the_plan_writes_nothing_and_says_everything(tmp_path: Path) -> None:
    config, out, origin = setup(tmp_path)
    before = config.read_bytes()
    code, said = await run(StubTool(), origin, config, out, apply=False)
    assert code == 0
    assert config.read_bytes() == before and not out.exists()
    for line in (
        "Import from Stub (" + str(origin.folder) + ") into " + str(config) + ":",
        "    = alice                    matched by e-mail Alice@Example.com",
        "    + dave                     new user Dave D. <dave@example.com> (U4: Dave D.)",
        "    + primary                  1 rotation in America/New_York, "
        "1 override(s) to come (S1: Primary)",
        "    + primary-escalation       3 steps, repeated 2 times (P1: Primary escalation)",
        '    + orders                   service="orders" → primary-escalation (SV1: Orders)',
        '  - notification rule "Alice\'s SMS rule" (N1): Tocsin pages by tier',
        "  - routing 'Gone' (SV2): its escalation policy was not imported",
        "Summary: 9 to add, 2 people matched, 3 not carried over.",
        "    + no-mail                  new user No Mail (U5: No Mail) — "
        "no e-mail address to match an existing user by",
        "    + round-robin              1 step (P2: Round robin)",
        "Carried over with a change (4):",
        "  - override 'Part cover' (O7): in Tocsin it covers the whole schedule",
    ):
        assert line in said.splitlines(), line


async def test_apply_writes_the_file_includes_it_and_a_second_run_changes_nothing(
    tmp_path: Path,
) -> None:
    config, out, origin = setup(tmp_path)
    code, said = await run(StubTool(), origin, config, out, apply=True)
    assert code == 0, said
    assert f"Wrote {out}; {config} now includes it." in said
    assert config.read_text().endswith("include:\n  - oncall-stub.yaml\n")
    text = out.read_text()
    assert "  # Stub schedule S1: Primary\n  primary:\n" in text
    assert "  # Stub user U4: Dave D.\n  - id: dave\n" in text
    assert '#   notification rule "Alice\'s SMS rule" (N1): Tocsin pages by tier' in text
    assert "#   override 'Part cover' (O7): in Tocsin it covers the whole schedule" in text
    settings = load_settings(config)
    assert set(settings.schedules) == {"primary", "follow-the-sun"}
    assert settings.escalation_policies["primary-escalation"].repeat == 2
    assert settings.routes[-1].name == "orders"
    files = (config.read_bytes(), out.read_bytes())
    code, said = await run(StubTool(), origin, config, out, apply=True)
    assert (code, said.splitlines()[-1]) == (0, "Nothing to change.")
    assert (config.read_bytes(), out.read_bytes()) == files
    assert "    = primary                  1 rotation" in said


async def test_a_changed_tool_is_shown_and_needs_replace(tmp_path: Path) -> None:
    config, out, origin = setup(tmp_path)
    await run(StubTool(), origin, config, out, apply=True)

    def changed() -> Catalog:
        catalog = story()
        catalog.policies[0] = dataclasses.replace(catalog.policies[0], repeat=3)
        catalog.schedules.pop()
        return catalog

    before = out.read_bytes()
    with pytest.raises(ImportFailed, match="--replace to write over it"):
        await run(StubTool(build=changed), origin, config, out, apply=True)
    assert out.read_bytes() == before
    code, said = await run(StubTool(build=changed), origin, config, out, apply=True, replace=True)
    assert code == 0
    assert (
        "    ~ primary-escalation       3 steps, repeated 3 times (P1: Primary escalation) — "
        "differs in repeat" in said
    )
    assert (
        "    - follow-the-sun           2 rotations in America/New_York (follow-the-sun) — "
        "no longer in Stub" in said.splitlines()
    )
    settings = load_settings(config)
    assert set(settings.schedules) == {"primary"}
    assert settings.escalation_policies["primary-escalation"].repeat == 3


async def test_failures_leave_every_file_as_it_was(tmp_path: Path) -> None:
    config, out, origin = setup(tmp_path)
    before = config.read_bytes()
    with pytest.raises(ImportFailed, match=r"people\.json: missing"):
        await run(StubTool(), Origin(folder=str(tmp_path)), config, out, apply=True)
    config.write_text(config.read_text() + "include: []\n")
    before = config.read_bytes()
    with pytest.raises(ImportFailed, match=r"has its own include list: add oncall-stub\.yaml"):
        await run(StubTool(), origin, config, out, apply=True)
    assert config.read_bytes() == before and not out.exists()
    config.write_text(config.read_text().replace("include: []\n", ""))
    text = config.read_text().replace("secret_key:", "secret_key_typo:")
    config.write_text(text)
    with pytest.raises(ConfigError):
        await run(StubTool(), origin, config, out, apply=True)
    assert config.read_text() == text and not out.exists()
    with pytest.raises(ImportFailed, match="needs a token"):
        await run(
            StubTool(), Origin(url="http://127.0.0.1:9"), tocsin_config(tmp_path), out, apply=False
        )


async def test_shadow_compares_each_imported_schedule(tmp_path: Path) -> None:
    config, out, origin = setup(tmp_path)
    await run(StubTool(), origin, config, out, apply=True)
    start = at(8, 5)
    shifts = {
        "S1": [
            Shift(at(1, 14), at(8, 14), "U1"),
            Shift(at(8, 14), at(10, 17), "U2"),
            Shift(at(10, 17), at(10, 23), "carol@example.com"),
            Shift(at(10, 23), at(15, 13), "U2"),
            Shift(at(15, 13), at(22, 13), "U3"),
        ]
    }
    tool = StubTool(shifts=shifts)
    results, missing = await shadow(
        tool, origin, config, load_settings(config), start=start, days=14, wanted=["Primary"]
    )
    assert missing == []
    [primary] = results
    assert (primary.name, primary.origin, primary.differences) == (
        "primary",
        'Stub schedule S1 "Primary"',
        [],
    )
    assert primary.end - primary.start == timedelta(days=14)
    (tmp_path / "bare").mkdir()
    bare = tocsin_config(tmp_path / "bare")
    results, missing = await shadow(tool, origin, bare, load_settings(bare), start=start, days=1)
    assert results == []
    assert missing[0].startswith(
        "Stub schedule S1 \"Primary\": not compared, no schedule 'primary' in"
    )


async def test_shadow_names_people_as_the_import_did(tmp_path: Path) -> None:
    """Someone without an e-mail address is matched by the id the import gave them, not
    proposed again once the import's file is part of the configuration."""

    def nameless() -> Catalog:
        catalog = story()
        layer = Layer("L9", "Nights", ("U5",), timedelta(days=1), datetime(2027, 3, 1))
        catalog.schedules.append(Rota("S9", "Nights", "UTC", (layer,)))
        return catalog

    config, out, origin = setup(tmp_path)
    assert (await run(StubTool(build=nameless), origin, config, out, apply=True))[0] == 0
    tool = StubTool(build=nameless, shifts={"S9": [Shift(at(8, 0), at(9, 0), "U5")]})
    settings = load_settings(config)
    results, _ = await shadow(
        tool, origin, config, settings, start=at(8, 0), days=1, out=out, wanted=["S9"]
    )
    assert [(c.name, c.differences) for c in results] == [("nights", [])]


async def test_an_include_that_cannot_be_appended_safely_is_left_to_the_reader(
    tmp_path: Path,
) -> None:
    config, out, origin = setup(tmp_path)
    config.write_text(config.read_text() + "...\n")
    before = config.read_bytes()
    with pytest.raises(ImportFailed, match=r"add `include: \[oncall-stub\.yaml\]` to it by hand"):
        await run(StubTool(), origin, config, out, apply=True)
    assert config.read_bytes() == before and not out.exists()
