"""Tocsin core: the neutral model, domain services and the engine. Imports no platform SDK."""
