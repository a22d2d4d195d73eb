"""The audit's rules on stock: every product's reserved units are the held reservations of
orders that still wait for them, and what left the shelf left with a parcel."""

from collections import defaultdict
from typing import TYPE_CHECKING

from inventory import selectors as inventory_selectors

from ..models import OrderItem
from .audit import FINISHED_UNCOMPLETED, SHIPPED, Audit, OrderRow

if TYPE_CHECKING:
    pass


def check_stock(audit: Audit) -> None:
    products = (
        None
        if audit.since is None
        else OrderItem.objects.filter(order__in=audit.scope_pks).values("product_id")
    )
    rows = inventory_selectors.stock_audit_rows(product_ids=products)
    audit.report.checked["products"] = len(rows)
    for product in rows:
        if product["reserved"] != product["held"]:
            detail = f"reserved {product['reserved']}, held reservations sum to {product['held']}"
            audit.flag("stock.reserved_mismatch", detail, product=product["sku"])
        if not product["on_hand"] >= product["reserved"] >= 0:
            detail = f"on_hand {product['on_hand']}, reserved {product['reserved']}"
            audit.flag("stock.oversold", detail, product=product["sku"])
    held: dict[int, dict[int, int]] = defaultdict(dict)
    committed: dict[int, dict[int, int]] = defaultdict(dict)
    for row in inventory_selectors.reservation_audit_rows(order_pks=audit.scope_pks):
        target = (
            held if row["status"] == "held" else committed if row["status"] == "committed" else None
        )
        if target is not None:
            target[row["order_id"]][row["product_id"]] = row["quantity"]
    shipped_items: dict[int, dict[int, int]] = defaultdict(dict)
    lines = OrderItem.objects.filter(order__in=audit.scope.filter(status__in=SHIPPED)).order_by()
    for order_pk, product_id, quantity in lines.values_list("order_id", "product_id", "quantity"):
        shipped_items[order_pk][product_id] = quantity
    for pk in held.keys() | committed.keys() | shipped_items.keys():
        _check_order_stock(
            audit,
            audit.orders[pk],
            held.get(pk, {}),
            committed.get(pk, {}),
            shipped_items.get(pk, {}),
        )


def _check_order_stock(
    audit: Audit,
    order: OrderRow,
    held: dict[int, int],
    committed: dict[int, int],
    shipped: dict[int, int],
) -> None:
    if order.status in FINISHED_UNCOMPLETED and held:
        audit.flag(
            "stock.held_after_terminal",
            f"{order.status} order holds {sum(held.values())} unit(s)",
            order=order,
        )
    if order.status in SHIPPED and (committed != shipped or held):
        detail = (
            f"shipped {_units(shipped)}, committed {_units(committed)}, still held {_units(held)}"
        )
        audit.flag("stock.committed_mismatch", detail, order=order)
    elif order.status not in SHIPPED and committed:
        audit.flag(
            "stock.committed_mismatch",
            f"{order.status} order committed {_units(committed)}",
            order=order,
        )


def _units(lines: dict[int, int]) -> str:
    return "{" + ", ".join(f"product {pid}: {qty}" for pid, qty in sorted(lines.items())) + "}"
