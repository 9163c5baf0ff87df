"""The TwiML Tocsin gives Twilio: what a call reads (the page, and the keypress prompt inside a
``<Gather>``), what it says back after a key, and the SMS answering a reply.

A call speaks the page's language: Chinese as ``cmn-CN``, anything else as ``en-US``, each with
its configured voice. Every call's TwiML stays within Twilio's ``Twiml`` parameter limit by
shortening the page text, never the prompt or the ``<Gather>`` around it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

TWIML_LIMIT = 4000
"""Twilio refuses a ``Twiml`` parameter longer than this."""
GATHER_SECONDS = 8
"""How long a call waits for the key after the prompt."""
EMPTY = "<Response/>"


def spoken(lang: str) -> tuple[str, Literal["zh", "en"]]:
    """The <Say> language for a page language, and the `voices` key of its voice."""
    return ("cmn-CN", "zh") if lang.lower().startswith("zh") else ("en-US", "en")


def say_twice(text: str, language: str, voice: str) -> str:
    """TwiML that reads `text` twice, with a pause between, shortened to fit Twilio's limit."""

    def build(words: str) -> str:
        say = _say(words, language, voice)
        return f'<Response>{say}<Pause length="1"/>{say}</Response>'

    return _fitted(text, build)


def gather(text: str, prompt: str, action: str, language: str, voice: str) -> str:
    """TwiML that reads `text` and `prompt` while waiting for one key (Twilio POSTs it to
    `action`), then, when no key came, reads `text` once more before hanging up."""
    opening = (
        f'<Gather input="dtmf" numDigits="1" timeout="{GATHER_SECONDS}" '
        f'action={quoteattr(action)} method="POST">'
    )
    asked = _say(prompt, language, voice)

    def build(words: str) -> str:
        say = _say(words, language, voice)
        return f'<Response>{opening}{say}<Pause length="1"/>{asked}</Gather>{say}</Response>'

    return _fitted(text, build)


def say_and_hang_up(text: str, lang: str, voices: Mapping[Literal["zh", "en"], str]) -> str:
    """The answer to a keypress: `text` read in `lang` (nothing when empty), then hang up."""
    if not text:
        return "<Response><Hangup/></Response>"
    language, key = spoken(lang)
    return f"<Response>{_say(text, language, voices[key])}<Hangup/></Response>"


def message(text: str) -> str:
    """The answer to an SMS: `text` sent back as a reply (none when empty)."""
    return f"<Response><Message>{escape(text)}</Message></Response>" if text else EMPTY


def _say(words: str, language: str, voice: str) -> str:
    return f"<Say language={quoteattr(language)} voice={quoteattr(voice)}>{escape(words)}</Say>"


def _fitted(text: str, build: Callable[[str], str]) -> str:
    """`build(text)`, the text shortened until it fits (it is read twice, so each cut counts
    twice)."""
    words = " ".join(text.split())
    twiml = build(words)
    while len(twiml) > TWIML_LIMIT and words:
        words = words[: len(words) - (len(twiml) - TWIML_LIMIT) // 2 - 1]
        twiml = build(words)
    return twiml
