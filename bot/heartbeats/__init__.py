"""Heartbeats: what watches the watchers.

A heartbeat is expected every `interval`: a `POST /api/v1/heartbeats/<name>` from a job, or an
always-firing Watchdog alert from an Alertmanager (so Alertmanager, and the Prometheus behind
it, are known to be alive). The `heartbeats` table holds one row per configured heartbeat;
beats write it (`store.record`), the engine's pass reads it (`monitor.HeartbeatPass`): a beat
missing for `interval + grace` raises the blind-monitoring alert through the intake, routed
and paged like any alert, and beats coming back resolve it.
"""
