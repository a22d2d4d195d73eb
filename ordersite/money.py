"""Money as staff read and type it: integer minor units (cents) in the database and in every task
and API body, `USD 20.99` on screen. Every amount the admin shows goes through format_money, so
an amount never reads as raw cents (`2099`) nor as the wrong number of decimals (`JPY 20.99`)."""

import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

# ISO 4217 currencies whose minor unit is not a hundredth; every other code has two decimals.
_MINOR_DIGITS = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX"), 0
    ),
    **dict.fromkeys(("UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
EMPTY = "-"


def minor_digits(currency: str) -> int:
    """Decimals of `currency`'s major unit: 2 for USD (cents), 0 for JPY, 3 for KWD."""
    return _MINOR_DIGITS.get(currency.upper(), 2)


def to_major_units(minor: int, currency: str) -> Decimal:
    """2099 USD cents -> Decimal('20.99'); exact, never a float."""
    return Decimal(minor).scaleb(-minor_digits(currency))


def to_minor_units(major: Decimal, currency: str) -> int:
    """Decimal('20.99') USD -> 2099. Refuses an amount with more decimals than the currency has
    (20.999 USD), rather than round money someone typed."""
    scaled = major.scaleb(minor_digits(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{currency} amounts have at most {minor_digits(currency)} decimals.")
    return int(scaled)


def format_money(minor: int | None, currency: str) -> str:
    """`USD 20.99`, `USD 1,250.00`, `JPY 2,099`, `USD -0.50`; `-` for no amount."""
    if minor is None:
        return EMPTY
    digits = minor_digits(currency)
    return f"{currency.upper()} {to_major_units(minor, currency):,.{digits}f}"


def money_column(
    minor_attr: str,
    *,
    description: str,
    currency_attr: str = "currency",
    sort_by: str | None = None,
) -> Callable[..., str]:
    """A ModelAdmin column or read-only field showing `minor_attr` as money (sorted by the stored
    cents column `sort_by`, if given). Dotted attributes reach a related row
    (`currency_attr="order.currency"`: select it related). Use it as a class attribute:
    `total = money_column("total_cents", description="Total", sort_by="total_cents")`."""
    minor_of, currency_of = operator.attrgetter(minor_attr), operator.attrgetter(currency_attr)

    def show(model_admin: Any, obj: Any) -> str:
        return format_money(minor_of(obj), currency_of(obj))

    show.short_description = description  # type: ignore[attr-defined]
    if sort_by:
        show.admin_order_field = sort_by  # type: ignore[attr-defined]
    return show
