"""ASGI entry for process managers: `uvicorn --factory bot.asgi:create_app` (or gunicorn with
uvicorn workers), reading the configuration file named by TOCSIN_CONFIG."""

from __future__ import annotations

import os

from starlette.types import ASGIApp

from bot.bootstrap import bootstrap
from bot.errors import ConfigError
from bot.logs import configure, tune_gc
from bot.settings import load_settings


def create_app() -> ASGIApp:
    path = os.environ.get("TOCSIN_CONFIG")
    if not path:
        raise ConfigError(["TOCSIN_CONFIG: set it to the path of Tocsin's YAML configuration"])
    settings = load_settings(path)
    configure(settings.tocsin.log_format)
    app = bootstrap(settings).app
    tune_gc()
    return app
