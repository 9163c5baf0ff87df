"""Maintenance windows: times a service's alerts are recorded but page nobody below the tiers
that always page."""
