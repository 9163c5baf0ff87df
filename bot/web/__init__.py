"""The HTTP edge: one Starlette app for alert webhooks, chat callbacks, the console and ops."""
