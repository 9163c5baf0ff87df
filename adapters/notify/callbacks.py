"""The HTTP routes providers call back on, ``/api/v1/pagers/<name>/<channel>/<event>``: each
notifier that takes callbacks (delivery status, SMS replies, keypresses) offers its own
``callback_routes(events)``, checking the provider's signature before anything is read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.routing import BaseRoute

from bot.paging.events import PhoneEvents
from bot.ports import Provider

PREFIX = "/api/v1/pagers"


def path(name: str, channel: str, event: str) -> str:
    """A provider's callback path, e.g. ``/api/v1/pagers/twilio/sms/status``."""
    return f"{PREFIX}/{name}/{channel}/{event}"


def callback_routes(
    providers: Mapping[str, Sequence[Provider]], events: PhoneEvents
) -> list[BaseRoute]:
    """The routes of every configured provider that takes callbacks."""
    routes: list[BaseRoute] = []
    for chain in providers.values():
        for provider in chain:
            offer = getattr(provider.notifier, "callback_routes", None)
            if offer is not None:
                routes += offer(events)
    return routes
