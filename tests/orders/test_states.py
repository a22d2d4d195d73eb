"""The state machine, checked exhaustively: every pair of statuses is allowed or refused."""

import itertools

import pytest

from orders.states import (
    CANCELLABLE,
    RETURN_TRANSITIONS,
    TERMINAL,
    TRANSITIONS,
    OrderStatus,
    ReturnStatus,
    can_transition,
    can_transition_return,
)

S = OrderStatus
ALLOWED = {
    (S.PENDING, S.PAYMENT_PROCESSING),
    (S.PENDING, S.CANCELLED),
    (S.PENDING, S.FAILED),
    (S.PAYMENT_PROCESSING, S.PAID),
    (S.PAYMENT_PROCESSING, S.PAYMENT_FAILED),
    (S.PAYMENT_PROCESSING, S.CANCELLED),
    (S.PAYMENT_PROCESSING, S.FAILED),
    (S.PAID, S.RESERVED),
    (S.PAID, S.OUT_OF_STOCK),
    (S.PAID, S.CANCELLED),
    (S.PAID, S.FAILED),
    (S.RESERVED, S.SHIPPED),
    (S.RESERVED, S.PENDING_SHIPMENT),
    (S.RESERVED, S.CANCELLED),
    (S.RESERVED, S.FAILED),
    (S.PENDING_SHIPMENT, S.SHIPPED),
    (S.PENDING_SHIPMENT, S.CANCELLED),
    (S.PENDING_SHIPMENT, S.FAILED),
    (S.SHIPPED, S.COMPLETED),
    (S.OUT_OF_STOCK, S.CANCELLED),
    (S.COMPLETED, S.DELIVERED),
    (S.COMPLETED, S.PARTIALLY_REFUNDED),
    (S.COMPLETED, S.REFUNDED),
    (S.DELIVERED, S.PARTIALLY_REFUNDED),
    (S.DELIVERED, S.REFUNDED),
    (S.PARTIALLY_REFUNDED, S.REFUNDED),
}
R = ReturnStatus
RETURN_ALLOWED = {
    (R.REQUESTED, R.APPROVED),
    (R.REQUESTED, R.REFUSED),
    (R.APPROVED, R.RECEIVED),
    (R.RECEIVED, R.REFUNDED),
}


@pytest.mark.parametrize(("current", "to"), list(itertools.product(S, S)))
def test_transitions_allow_exactly_the_table(current, to):
    assert can_transition(current, to) is ((current, to) in ALLOWED)


@pytest.mark.parametrize(("current", "to"), list(itertools.product(R, R)))
def test_return_transitions_allow_exactly_the_table(current, to):
    assert can_transition_return(current, to) is ((current, to) in RETURN_ALLOWED)


def test_every_status_has_a_row():
    assert set(TRANSITIONS) == set(S)
    assert set(RETURN_TRANSITIONS) == set(R)


def test_terminal_statuses_are_the_ends_of_the_saga():
    # After-sale statuses are the carrier's and staff's: the pipeline is done with them.
    assert {
        S.COMPLETED,
        S.DELIVERED,
        S.PARTIALLY_REFUNDED,
        S.REFUNDED,
        S.PAYMENT_FAILED,
        S.CANCELLED,
        S.FAILED,
    } == TERMINAL


def test_orders_are_cancellable_only_before_the_parcel_leaves():
    assert {S.PENDING, S.PAYMENT_PROCESSING, S.PAID, S.RESERVED, S.PENDING_SHIPMENT} == CANCELLABLE
