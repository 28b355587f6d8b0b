"""Configuration for tortoise's own CLI, e.g.
`tortoise -c app.tortoise_cli.TORTOISE_ORM makemigrations`."""

from app.config import load_settings
from app.db import tortoise_config

TORTOISE_ORM = tortoise_config(load_settings())
