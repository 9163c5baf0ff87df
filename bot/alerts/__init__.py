"""Alerts: normalised events from any source, fingerprints, tiers, routes and the ingest service."""
