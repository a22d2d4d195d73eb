"""The HTTP payment adapter against our payment sandbox, over real HTTP."""

import httpx
import pytest

from ordersite.breakers import Breaker, BreakerName, CircuitOpenError
from ordersite.gateways import GatewayRejectedError, GatewayRequestError, GatewayUnavailableError
from payments.gateways import HttpPaymentGateway, get_payment_gateway
from sandboxes.faults import request_count, set_faults

from ..conftest import refuses, wait_for

pytestmark = pytest.mark.usefixtures("faults")


def _authorize(gateway, token="tok_visa", key="order-1:authorize", amount=2500):
    return gateway.authorize(amount_cents=amount, currency="USD", token=token, idempotency_key=key)


def _ledger(faults) -> list[dict]:
    return httpx.get(f"{faults.urls['payments']}/v1/authorizations", timeout=5).json()["data"]


def test_authorize_twice_with_one_key_gives_one_authorization(faults):
    gateway = HttpPaymentGateway()
    first, second = _authorize(gateway), _authorize(gateway)
    assert first == second
    assert first.approved
    assert first.reference.startswith("auth_")
    assert [(a["id"], a["amount_cents"], a["status"]) for a in _ledger(faults)] == [
        (first.reference, 2500, "authorized")
    ]


def test_authorize_reusing_a_key_for_another_amount_is_rejected(faults):
    gateway = HttpPaymentGateway()
    _authorize(gateway)
    with pytest.raises(GatewayRejectedError):
        _authorize(gateway, amount=9999)


@pytest.mark.parametrize(
    ("token", "code"),
    [("tok_declined", "card_declined"), ("tok_insufficient_funds", "insufficient_funds")],
)
def test_authorize_declined_card_is_a_result_not_an_error(faults, token, code):
    result = _authorize(HttpPaymentGateway(), token=token)
    assert (result.approved, result.decline_code) == (False, code)
    assert _ledger(faults) == []


def test_authorize_processing_error_card_succeeds_on_the_third_attempt(faults):
    gateway = HttpPaymentGateway()
    for _ in range(2):
        with pytest.raises(GatewayRequestError):
            _authorize(gateway, token="tok_processing_error")
    assert _authorize(gateway, token="tok_processing_error").approved
    assert len(_ledger(faults)) == 1


def test_authorize_timeout_card_times_out_once_and_charges_once(faults, settings):
    settings.GATEWAY_READ_TIMEOUT = 0.5
    gateway = HttpPaymentGateway()
    with pytest.raises(GatewayUnavailableError, match="ReadTimeout"):
        _authorize(gateway, token="tok_timeout")
    assert _authorize(gateway, token="tok_timeout").approved
    assert len(_ledger(faults)) == 1


def test_capture_void_and_refund_move_the_ledger_and_refuse_a_wrong_state(faults):
    gateway = HttpPaymentGateway()
    auth = _authorize(gateway)
    assert gateway.capture(
        reference=auth.reference, amount_cents=2500, idempotency_key="o:capture"
    ).approved
    with pytest.raises(GatewayRejectedError):
        gateway.void(reference=auth.reference, idempotency_key="o:void")
    assert gateway.refund(
        reference=auth.reference, amount_cents=1000, idempotency_key="o:refund"
    ).approved
    (entry,) = _ledger(faults)
    assert (entry["captured_cents"], entry["refunded_cents"], entry["status"]) == (
        1500,
        1000,
        "partially_refunded",
    )


def test_refunds_are_partial_idempotent_and_never_more_than_captured(faults):
    gateway = HttpPaymentGateway()
    auth = _authorize(gateway)
    gateway.capture(reference=auth.reference, amount_cents=2500, idempotency_key="o:capture")
    first = gateway.refund(
        reference=auth.reference, amount_cents=1000, idempotency_key="o:refund-1"
    )
    again = gateway.refund(
        reference=auth.reference, amount_cents=1000, idempotency_key="o:refund-1"
    )
    assert (first.approved, first.reference) == (True, again.reference)
    assert first.reference.startswith("re_")
    with pytest.raises(GatewayRejectedError):  # 422 invalid_amount: only 1500 left
        gateway.refund(reference=auth.reference, amount_cents=1501, idempotency_key="o:refund-2")
    assert gateway.refund(
        reference=auth.reference, amount_cents=1500, idempotency_key="o:refund-3"
    ).approved
    (entry,) = _ledger(faults)
    assert (entry["captured_cents"], entry["refunded_cents"], entry["status"]) == (
        0,
        2500,
        "refunded",
    )


def test_a_refund_the_issuer_refuses_is_a_result_asked_again_until_allowed(faults):
    gateway = HttpPaymentGateway()
    auth = _authorize(gateway, token="tok_refund_refused")
    gateway.capture(reference=auth.reference, amount_cents=2500, idempotency_key="o:capture")
    for _ in range(2):
        refused = gateway.refund(
            reference=auth.reference, amount_cents=700, idempotency_key="o:refund"
        )
        assert (refused.approved, refused.decline_code) == (False, "refund_refused")
    lift = f"{faults.urls['payments']}/v1/authorizations/{auth.reference}/allow-refunds"
    httpx.post(lift, json={}, headers={"Idempotency-Key": "lift"}, timeout=5).raise_for_status()
    assert gateway.refund(
        reference=auth.reference, amount_cents=700, idempotency_key="o:refund"
    ).approved
    assert _ledger(faults)[0]["refunded_cents"] == 700


def test_refunds_see_injected_faults_like_every_call(faults):
    gateway = HttpPaymentGateway()
    auth = _authorize(gateway)
    gateway.capture(reference=auth.reference, amount_cents=2500, idempotency_key="o:capture")
    set_faults("payments", error_rate=1.0)
    with pytest.raises(GatewayUnavailableError):
        gateway.refund(reference=auth.reference, amount_cents=100, idempotency_key="o:refund")
    set_faults("payments", error_rate=0.0)
    assert gateway.refund(
        reference=auth.reference, amount_cents=100, idempotency_key="o:refund"
    ).approved
    assert _ledger(faults)[0]["refunded_cents"] == 100


def test_gateway_down_refuses_connections(faults):
    set_faults("payments", down=True)
    wait_for(lambda: refuses(faults.urls["payments"]), timeout=5)
    with pytest.raises(GatewayUnavailableError, match="ConnectError"):
        _authorize(HttpPaymentGateway())


def test_faults_repeat_exactly_under_the_same_seed(faults):
    gateway = HttpPaymentGateway()

    def pattern() -> list[bool]:
        set_faults("payments", error_rate=0.5, seed=7)
        outcomes = []
        for n in range(12):
            try:
                outcomes.append(_authorize(gateway, key=f"seeded-{n}").approved)
            except GatewayUnavailableError:
                outcomes.append(False)
        return outcomes

    first = pattern()
    assert first == pattern()
    assert 0 < first.count(False) < 12


def test_open_breaker_stops_calls_before_they_reach_the_sandbox(faults, settings):
    settings.BREAKER_CONSECUTIVE_FAILURES = 3
    set_faults("payments", error_rate=1.0)
    gateway = get_payment_gateway()
    for n in range(3):
        with pytest.raises(GatewayUnavailableError):
            _authorize(gateway, key=f"k{n}")
    with pytest.raises(CircuitOpenError):
        _authorize(gateway, key="k4")
    assert request_count("payments") == 3


def test_a_card_specific_processing_error_does_not_count_against_the_breaker(faults, settings):
    """Finding 5b: `tok_processing_error` is an answer about this card and request (a 503 whose
    code is `processing_error`); it is retried, but it says nothing about the processor being
    down."""
    settings.BREAKER_CONSECUTIVE_FAILURES = 3
    gateway = get_payment_gateway()
    for n in range(6):
        for _ in range(2):
            with pytest.raises(GatewayRequestError, match="processing_error"):
                _authorize(gateway, token="tok_processing_error", key=f"flaky-{n}")
    breaker = Breaker(BreakerName.PAYMENT).snapshot()
    assert (breaker.state, breaker.errors, breaker.times_opened) == ("closed", 0, 0)
    assert all(
        _authorize(gateway, token="tok_processing_error", key=f"flaky-{n}").approved
        for n in range(6)
    )


def test_a_gateway_wide_503_still_counts_against_the_breaker(faults, settings):
    settings.BREAKER_CONSECUTIVE_FAILURES = 3
    set_faults("payments", error_rate=1.0)  # the sandbox's own 503 "unavailable"
    gateway = get_payment_gateway()
    for n in range(3):
        with pytest.raises(GatewayUnavailableError):
            _authorize(gateway, key=f"k{n}")
    assert Breaker(BreakerName.PAYMENT).snapshot().state == "open"
