"""The transactional outbox: messages are rows written with the state change that causes them;
a worker delivers them with retries, back-off, rate limits, coalescing and storm digests."""
