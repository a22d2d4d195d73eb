"""Workers of the notification tests: on the dead-letter tests' isolated broker, with mail on."""

from ..dlq.conftest import isolated_broker, isolated_worker  # noqa: F401  (the fixtures)
