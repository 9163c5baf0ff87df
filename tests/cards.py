"""A card as the core makes it (with the badge of its status), for the renderer tests of every
platform: each shows the same card its own way."""

from __future__ import annotations

from bot.model import Button, Card, Field, Link, Section, Tier
from bot.statuses import badge

LINKS = (
    Link("Runbook", "https://wiki.example.com/orders"),
    Link("Evil", "javascript:alert(1)"),
    Link("Dashboard", "http://grafana.example.com/d/1"),
)
"""Two links a card may show and one no platform may (not http or https)."""


def run_card(
    status: str = "run.rolled_back",
    lang: str = "en",
    *,
    tier: Tier | None = None,
    links: tuple[Link, ...] = (),
    sections: tuple[Section, ...] = (),
    buttons: tuple[Button, ...] = (),
    title: str = "Deploy orders v1.4.4 → staging",
    body: str = "Health gate failed twice.",
    footer: str = "Run #3 · ops",
) -> Card:
    """A run's card in `status`, its badge in `lang`."""
    return Card(
        ref="run:3",
        title=title,
        tier=tier,
        status=status,
        fields=(Field("Service", "orders"),),
        body=body,
        footer=footer,
        badge=badge(status, lang),
        links=links,
        sections=sections,
        buttons=buttons,
    )
