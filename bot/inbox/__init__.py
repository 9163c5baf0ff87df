"""The inbox: presses and commands written to the database before the platform is told OK.

A platform treats its request as delivered once Tocsin answers it, and chat platforms want that
answer within a few seconds, so adapters answer first and do the work after. Between the two a
process can be stopped or killed. The inbox closes that gap:

1. the adapter calls `accept` with the request and its *route* (what it needs to answer: a
   Slack ``response_url``, a WeCom ``response_code``, a DingTalk card's ``outTrackId``…) before
   it acknowledges; the row's unique key is the platform's event id, so a re-delivery adds none;
2. the adapter hands the request to the dispatcher as before; the dispatcher marks the row done
   in the transaction that carries the request's effects and its audit row, so a request is
   done exactly when its effects are committed;
3. a row still pending when its lease ends (its process died, or shut down before finishing) is
   taken by the `Resumer` of any replica, which gives it back to the platform's adapter on that
   replica (`on_resume`) to be handled and answered as if it had just arrived. The dispatcher's
   de-duplication makes a second attempt of a request that did commit a no-op.

A row that fails `MAX_ATTEMPTS` times is given up, logged and audited. Done and given-up rows
go with the ``inbound_events`` retention.
"""

from bot.inbox.codec import Request, decode, encode
from bot.inbox.resume import Resume, Resumer
from bot.inbox.store import LEASE, MAX_ATTEMPTS, Entry, Inbox

__all__ = [
    "LEASE",
    "MAX_ATTEMPTS",
    "Entry",
    "Inbox",
    "Request",
    "Resume",
    "Resumer",
    "decode",
    "encode",
]
