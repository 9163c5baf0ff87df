"""Prometheus Alertmanager's own API: where silences of its alerts are made (`api`), beside the
webhook it sends alerts to (`adapters.sources.alertmanager`). `memory` is an in-memory fake of
the port for tests."""
