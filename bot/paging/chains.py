"""Each paging channel's providers in failover order, and the order for one person's number:
the providers they chose first (``contact.providers``), then the rest as configured, leaving
out those that do not take the number (`Provider.prefixes`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.ports import Notifier, Provider

Chains = dict[str, tuple[Provider, ...]]
Given = Mapping[str, Notifier | Provider | Sequence[Notifier | Provider]]


def chains(given: Given) -> Chains:
    """Providers by channel from what the composition root was given: one notifier, a
    provider, or a list of either in order (a bare notifier is named by its kind)."""
    made: Chains = {}
    for channel, value in given.items():
        items = value if isinstance(value, Sequence) else (value,)
        made[channel] = tuple(
            item if isinstance(item, Provider) else Provider(item.provider, item) for item in items
        )
    return made


def order(chain: Sequence[Provider], address: str, first: Sequence[str] = ()) -> list[Provider]:
    """The providers to try for `address`, in order: those named in `first` (in that order),
    then the others as configured; only those that take the number."""
    by_name = {p.name: p for p in chain}
    chosen = [by_name[name] for name in dict.fromkeys(first) if name in by_name]
    chosen += [p for p in chain if p not in chosen]
    return [p for p in chosen if p.takes("+" + digits(address))]


def digits(number: str) -> str:
    """A number's digits with its country code, however it is written (``+86 138-0000-0001``,
    ``008613800000001`` → ``8613800000001``): to compare numbers and match prefixes."""
    found = "".join(c for c in number if c.isdigit())
    return found[2:] if number.strip().startswith("00") else found
