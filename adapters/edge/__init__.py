"""What every adapter's edge shares, written once so each platform cannot drift on its own.

- `http` — outbound calls through ``httpx``: transport failures as delivery errors, answers read
  leniently, ``Retry-After`` read (the notifiers, the deploy backends, the metrics sources);
- `replay` — the one rule for signed inbound requests: fresh within the platform's window, then
  claimed once in `bot.replay`;
- `buttons` — a button's card reference, action and value written into what the platform sends
  back on a press, and read back (refusing what Tocsin did not write);
- `backoff` — the reconnect delays of the long-lived connections (Slack Socket Mode, DingTalk
  Stream);
- `section` — reading a settings section into its model, with every problem named by key path,
  and the secret checks the sections share.

Inbound bodies are read with `bot.web.body.read_body`, the bounded reader the core's own HTTP
routes use (an adapter may import the core, never the other way round).
"""
