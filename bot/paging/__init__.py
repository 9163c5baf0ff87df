"""What happens to a phone page after it is sent: the providers' delivery reports (pushed or
polled) moving it on — to the next provider in the channel's failover order, or to the next
escalation step at once for an undelivered P0 — and people answering it from their phones (an
SMS reply, a key pressed in a call), acted on as the button press it stands for."""
