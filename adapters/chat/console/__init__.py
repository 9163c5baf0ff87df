"""The built-in web console chat: a real chat platform served by Tocsin itself.

People open ``/console`` in a browser, type commands and press card buttons; cards update live in
place. The pieces, each small:

- `messages`: the ``console_messages`` rows and the JSON shape the browser receives;
- `hub`: the connected browser tabs per chat and user, and broadcasting to them;
- `platform`: `ConsolePlatform`, the `ChatPlatform` the outbox posts through;
- `identity`: who a browser is (demo picker or sign-in token);
- `conversation`: one WebSocket conversation, translating it to the neutral model;
- `routes`: the page, its static files, the WebSocket and the small JSON API.
"""

from adapters.chat.console.hub import ConsoleHub
from adapters.chat.console.platform import ConsolePlatform
from adapters.chat.console.routes import console_routes

__all__ = ["ConsoleHub", "ConsolePlatform", "console_routes"]
