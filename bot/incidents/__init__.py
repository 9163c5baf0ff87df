"""Incidents: groups of alerts with a state machine and the actions people take on them.

    triggered ──ack──► acknowledged ──resolve──► resolved
        ▲                   │                       │
        └── ack expires ────┘   alert fires again ──┘ (within the reopen window)

Silencing is orthogonal: `silenced_until` mutes an incident of any open status until then.
"""
