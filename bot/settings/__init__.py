"""Settings: one YAML file, `${ENV}` interpolation, typed and validated once at start-up."""

from bot.settings.loader import load_settings, parse_settings
from bot.settings.schema import Settings

__all__ = ["Settings", "load_settings", "parse_settings"]
