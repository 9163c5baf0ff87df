"""A review as a card, in the reader's language: the draft after a rollback (what was undone,
why, what the health gate measured, who did what, a follow-up checklist), or, for a drill, the
drill's report (no root cause to look for when the release was bad on purpose)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, tzinfo

from bot.i18n import t
from bot.model import ActionKind, Button, ButtonStyle, Card, Field, Link, Section
from bot.reviews import timeline
from bot.reviews.checklist import follow_items
from bot.reviews.facts import Facts
from bot.reviews.followups import Item
from bot.statuses import badge

REF = "review:"
"""A review card's reference is ``review:<rollback run id>``."""


def review_ref(run_id: int) -> str:
    return f"{REF}{run_id}"


def review_card(
    facts: Facts,
    lang: str,
    tz: tzinfo = UTC,
    items: Sequence[Item] = (),
    names: Mapping[str, str] | None = None,
) -> Card:
    """The review of `facts` in `lang`, with times shown in `tz`; `items` are its tracked
    follow-ups (a Done or Undo button each), `names` who marked them, by user id. A review
    written before its items were tracked shows its checklist without buttons."""
    follow = _follow(facts, lang, tz, items, names or {})
    if facts.drill is not None:
        return replace(_drill(facts, lang, tz, follow[0]), buttons=follow[1])
    rollback, bad = facts.rollback, facts.bad
    names = {"service": facts.service, "environment": facts.environment}
    key = "review.title.canary" if rollback.stage == "canary" else "review.title.rollback"
    title = t(key, lang, **names, bad=rollback.previous or "?", good=rollback.version)
    fields = [*_common(facts, lang), Field(t("review.field.why", lang), _why(facts, lang))]
    if facts.incident is not None:
        i = facts.incident
        fields.append(Field(t("review.field.incident", lang), f"#{i.id} [{i.tier}] {i.title}"))
    if bad is not None and bad.finished_at and rollback.finished_at:
        spent = duration(bad.finished_at, rollback.finished_at, lang)
        fields.append(Field(t("review.field.restore_time", lang), spent))
    return Card(
        ref=review_ref(rollback.id),
        title=title,
        tier=None,
        status="review.draft",
        badge=badge("review.draft", lang),
        fields=tuple(fields),
        sections=(
            *_measurements(facts, lang, tz),
            _timeline(facts, lang, tz),
            *follow[0],
        ),
        buttons=follow[1],
        links=_links(facts, lang),
        footer=t("review.footer", lang),
    )


def _follow(
    facts: Facts, lang: str, tz: tzinfo, items: Sequence[Item], names: Mapping[str, str]
) -> tuple[tuple[Section, ...], tuple[Button, ...]]:
    """The follow-up section, and a Done (or Undo) button per tracked item, numbered as the
    lines are. An item reads in `lang` from the facts by its position; its stored text stands
    in if the list changed since it was written."""
    said = follow_items(facts, lang)
    if not items:
        lines = tuple(f"[ ] {text}" for text in said)
        return ((Section(t("review.section.follow", lang), lines),) if lines else ()), ()
    shown, buttons = [], []
    for item in items:
        n = item.position + 1
        text = said[item.position] if item.position < len(said) else item.text
        if item.done:
            who = names.get(item.done_by or "", item.done_by or "?")
            when = item.done_at.astimezone(tz).strftime("%Y-%m-%d") if item.done_at else "-"
            shown.append(t("review.item.done", lang, text=text, who=who, when=when))
            buttons.append(
                Button(t("review.button.undo", lang, n=n), ActionKind.UNDONE, str(item.id))
            )
        else:
            shown.append(f"[ ] {text}")
            buttons.append(
                Button(
                    t("review.button.done", lang, n=n),
                    ActionKind.DONE,
                    str(item.id),
                    style=ButtonStyle.PRIMARY,
                )
            )
    return (Section(t("review.section.follow", lang), tuple(shown)),), tuple(buttons)


def _drill(facts: Facts, lang: str, tz: tzinfo, follow: tuple[Section, ...]) -> Card:
    rollback, bad = facts.rollback, facts.bad
    names = {"service": facts.service, "environment": facts.environment}
    gate = next((g for g in facts.gates if bad is not None and g.run_id == bad.id), None)
    passed = rollback.state == "succeeded"
    if passed:
        caught = gate.decided_at if gate is not None else None
        detect = duration(bad.finished_at, caught, lang) if bad is not None else "-"
        body = t(
            "review.drill.passed",
            lang,
            detect=detect,
            restore=duration(caught, rollback.finished_at, lang),
        )
    else:
        state = timeline.run_state(rollback.state, lang)
        body = t("review.drill.failed", lang, id=rollback.id, state=state)
    status = "drill.passed" if passed else "drill.failed"
    return Card(
        ref=review_ref(rollback.id),
        title=t("review.title.drill", lang, **names),
        tier=None,
        status=status,
        badge=badge(status, lang),
        body=body,
        fields=tuple(_common(facts, lang)),
        sections=(*_measurements(facts, lang, tz), _timeline(facts, lang, tz), *follow),
        links=_links(facts, lang),
        footer=t("review.footer.drill", lang, id=facts.drill),
    )


def _common(facts: Facts, lang: str) -> list[Field]:
    rollback, bad = facts.rollback, facts.bad
    fields = [Field(t("review.field.service", lang), f"{facts.service} · {facts.environment}")]
    if facts.owner:
        fields.append(Field(t("review.field.owner", lang), facts.owner))
    if bad is not None:
        key = "review.bad.canary" if bad.canary_weight else "review.bad"
        said = t(
            key,
            lang,
            version=bad.version,
            id=bad.id,
            who=timeline.who(bad.requested_by),
            weight=bad.canary_weight,
        )
        fields.append(Field(t("review.field.bad", lang), said))
    state = timeline.run_state(rollback.state, lang)
    restored = t("review.restored", lang, version=rollback.version, id=rollback.id, state=state)
    fields.append(Field(t("review.field.restored", lang), restored))
    return fields


def _why(facts: Facts, lang: str) -> str:
    """Why it was rolled back, from the facts: the gate's failure, the incident or a person."""
    rollback, bad = facts.rollback, facts.bad
    asked = timeline.who(rollback.requested_by)
    failed = timeline.failure(facts, bad.id, lang) if bad is not None else ""
    if failed:
        if rollback.requested_by == timeline.TOCSIN:
            return t("review.why.gate", lang, detail=failed)
        return t("review.why.gate_person", lang, who=asked, detail=failed)
    if facts.incident is not None:
        i = facts.incident
        return t("review.why.incident", lang, id=i.id, tier=i.tier, title=i.title)
    if rollback.requested_by != timeline.TOCSIN:
        return t("review.why.person", lang, who=asked)
    return facts.reason or "-"


def _measurements(facts: Facts, lang: str, tz: tzinfo) -> tuple[Section, ...]:
    if not facts.measurements:
        return ()
    zone = _zone(facts, tz)
    times = [m.at.astimezone(tz).strftime("%H:%M:%S") for m in facts.measurements]
    lines = [
        " · ".join(
            (
                at,
                m.metric,
                timeline.measured(m, lang),
                timeline.outcome(m, lang),
            )
        )
        for at, m in zip(times, facts.measurements, strict=True)
    ]
    header = t("review.measure.header", lang, zone=zone)
    return (Section(t("review.section.gate", lang), (header, *lines)),)


def _timeline(facts: Facts, lang: str, tz: tzinfo) -> Section:
    found = timeline.events(facts, lang)
    shown = timeline.clock([at for at, _ in found], tz)
    lines = tuple(f"{at} — {text}" for at, (_, text) in zip(shown, found, strict=True))
    return Section(t("review.section.timeline", lang, zone=_zone(facts, tz)), lines)


def _links(facts: Facts, lang: str) -> tuple[Link, ...]:
    runs = (r for r in (facts.bad, facts.rollback) if r is not None and r.url)
    return tuple(Link(t("review.link.run", lang, id=r.id), r.url) for r in runs)


def _zone(facts: Facts, tz: tzinfo) -> str:
    return facts.rollback.created_at.astimezone(tz).tzname() or "UTC"


def duration(start: datetime | None, end: datetime | None, lang: str) -> str:
    """``2 min 5 s`` (``2 分 5 秒``); ``-`` when either end is unknown."""
    if start is None or end is None:
        return "-"
    seconds = max(int((end - start).total_seconds()), 0)
    if seconds < 60:
        return t("review.duration.seconds", lang, s=seconds)
    return t("review.duration.minutes", lang, m=seconds // 60, s=seconds % 60)
