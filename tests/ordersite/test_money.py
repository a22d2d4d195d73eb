"""ordersite.money: cents in the database, money on screen, and back without rounding."""

from decimal import Decimal

import pytest

from ordersite.money import format_money, minor_digits, to_major_units, to_minor_units


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (2099, "USD", "USD 20.99"),
        (5, "USD", "USD 0.05"),
        (0, "EUR", "EUR 0.00"),
        (-50, "USD", "USD -0.50"),
        (123456789, "usd", "USD 1,234,567.89"),
        (2099, "JPY", "JPY 2,099"),
        (20995, "KWD", "KWD 20.995"),
        (10**15 + 1, "USD", "USD 10,000,000,000,000.01"),
        (None, "USD", "-"),
    ],
)
def test_format_money_shows_major_units_with_the_currency(minor, currency, shown):
    assert format_money(minor, currency) == shown


def test_minor_digits_follow_iso_4217():
    assert [minor_digits(code) for code in ("USD", "EUR", "JPY", "KRW", "BHD", "CLF", "XYZ")] == [
        2,
        2,
        0,
        0,
        3,
        4,
        2,
    ]


@pytest.mark.parametrize("currency", ["USD", "JPY", "KWD"])
def test_major_and_minor_units_round_trip_exactly(currency):
    for minor in (0, 1, 99, 2099, 10**12 + 7):
        assert to_minor_units(to_major_units(minor, currency), currency) == minor


def test_to_minor_units_converts_typed_amounts():
    assert to_minor_units(Decimal("20.99"), "USD") == 2099
    assert to_minor_units(Decimal("20.9"), "USD") == 2090
    assert to_minor_units(Decimal("20"), "USD") == 2000
    assert to_minor_units(Decimal("2099"), "JPY") == 2099
    # 0.1 + 0.2 style float artefacts never arise: Decimal all the way.
    assert to_minor_units(Decimal("0.30"), "USD") == 30


@pytest.mark.parametrize(
    ("typed", "currency"), [("20.999", "USD"), ("20.5", "JPY"), ("0.0001", "KWD")]
)
def test_to_minor_units_refuses_more_decimals_than_the_currency_has(typed, currency):
    with pytest.raises(ValueError, match=f"{currency} amounts have at most"):
        to_minor_units(Decimal(typed), currency)
