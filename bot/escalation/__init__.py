"""Escalation: who is paged for an incident, when, on which channels, and why.

`plan` freezes a policy's steps for one episode, with the service's owner where the alert asks
for them; `recipients` turns a step's targets into people and chats at a moment; `channels`
picks each person's channels; `engine` runs the timers (database rows) and `pager` delivers
SMS, voice and e-mail pages.
"""
