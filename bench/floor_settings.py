"""ordersite's settings, plus the floor endpoints of bench/floor.py (for the bench's web only)."""

from ordersite.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
