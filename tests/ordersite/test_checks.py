"""The startup checks refuse countdowns that the Redis visibility timeout would cut short."""

from ordersite.checks import countdowns_below_visibility_timeout


def test_defaults_pass():
    assert countdowns_below_visibility_timeout() == []


def test_a_breaker_open_longer_than_the_visibility_timeout_is_an_error(settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 20}
    settings.PIPELINE_RETRY_BACKOFF_MAX = 10
    settings.BREAKER_OPEN_SECONDS = 30
    assert [m.id for m in countdowns_below_visibility_timeout()] == ["ordersite.E001"]


def test_a_reconciler_faster_than_the_breaker_is_a_warning(settings):
    settings.PIPELINE_STUCK_AFTER_SECONDS = 10
    assert [m.id for m in countdowns_below_visibility_timeout()] == ["ordersite.W001"]
