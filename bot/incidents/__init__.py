"""Incidents: groups of alerts with a state machine and the actions people take on them.

`aggregate` holds the incident and every transition (the one place that says what is legal);
`repository` turns table rows into incidents and writes back what changed; `service` and
`actions` run transitions for people and the engine, inside the caller's transaction.

    triggered ──ack──► acknowledged ──resolve──► resolved
        ▲                   │                       │
        └── ack expires ────┘   alert fires again ──┘ (within the reopen window)

Silencing is orthogonal: `silenced_until` mutes an incident of any open status until then.
"""
