"""Compare-and-swap updates and transaction guards: the one way rows of Order and Product change."""

from typing import Any

from django.db import connection
from django.db.models import F, Model, Q

from .errors import ConflictError


def in_transaction() -> bool:
    """True inside an atomic block (helpers that must not open their own assert this)."""
    return connection.in_atomic_block


def require_transaction(what: str) -> None:
    """Fail loudly when an in-transaction helper is called outside one (kept under python -O)."""
    if not in_transaction():
        raise AssertionError(f"{what} must run inside a transaction")


def cas_update(
    model: type[Model], pk: Any, *, version: int | None = None, when: Q | None = None, **changes: Any
) -> None:
    """Apply `changes` only if the row is still as the caller saw it.

    Why: the database decides who wins a race; Python never reads, modifies, writes.
    Zero rows updated means someone else changed the row first (ConflictError).
    """
    match = Q(pk=pk) & (when or Q())
    if version is not None:
        match &= Q(version=version)
    rows = model._default_manager.filter(match).update(version=F("version") + 1, **changes)
    if rows != 1:
        raise ConflictError(model._meta.label, pk=pk, expected_version=version)


def increment_returning(model: type[Model], pk: Any, column: str) -> int:
    """Add one to `column` and return the new value in one statement. Call inside a transaction:
    the row lock it takes orders concurrent writers, so the numbers it hands out never repeat."""
    require_transaction("increment_returning")
    table = connection.ops.quote_name(model._meta.db_table)
    col = connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {col} = {col} + 1 WHERE id = %s RETURNING {col}", [pk])  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        raise ConflictError(model._meta.label, pk=pk)
    return row[0]
