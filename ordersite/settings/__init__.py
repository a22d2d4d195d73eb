"""Every setting of ordersite (DJANGO_SETTINGS_MODULE=ordersite.settings), split by area into the
framework's (framework.py: Django, PostgreSQL, logs, Redis, Celery, the API) and the order
pipeline's (pipeline.py). Every environment variable is read once, through framework.py's `env`.
"""

from .framework import *  # noqa: F403
from .pipeline import *  # noqa: F403
