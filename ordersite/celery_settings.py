"""Django's CELERY_* settings as the mapping Celery reads its configuration from.

Celery looks each key up under four spellings (`CELERY_TASK_SERIALIZER`, `task_serializer` and
their pre-4.0 names) in its source before its defaults, and a dozen keys for every message it
publishes. Given `"django.conf:settings"`, its source wraps Django's LazySettings, so every
spelling that is not a setting (most of them) costs two exceptions through LazySettings: about a
tenth of a publish's CPU. This mapping answers the same from a dict of the CELERY_* settings, read
again whenever a setting changes (override_settings and pytest-django's `settings` send
`setting_changed`).
"""

from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

PREFIX = "CELERY_"


class CelerySettings(Mapping[str, Any]):
    """Every CELERY_* Django setting, by name; read on first use, after Django is configured."""

    def __init__(self) -> None:
        self._values: dict[str, Any] | None = None
        setting_changed.connect(self._forget, weak=False)

    def _current(self) -> dict[str, Any]:
        values = self._values
        if values is None:
            values = {
                name: getattr(settings, name) for name in dir(settings) if name.startswith(PREFIX)
            }
            self._values = values
        return values

    def _forget(self, *, setting: str, **_: Any) -> None:
        if setting.startswith(PREFIX):
            self._values = None

    def __getitem__(self, key: str) -> Any:
        return self._current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())
