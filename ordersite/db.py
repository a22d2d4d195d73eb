"""Compare-and-swap updates and transaction guards: the one way a row changes only if still as
read."""

from collections.abc import Callable
from typing import Any, TypeVar, cast, overload

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import connection
from django.db.models import F, Field, Model, Q, QuerySet, sql
from django.db.models.constants import OnConflict

from . import compiled
from .errors import ConflictError

_M = TypeVar("_M", bound=Model)


def in_transaction() -> bool:
    """True inside an atomic block (helpers that must not open their own assert this)."""
    return connection.in_atomic_block


def require_transaction(what: str) -> None:
    """Fail loudly when an in-transaction helper is called outside one (kept under python -O)."""
    if not in_transaction():
        raise AssertionError(f"{what} must run inside a transaction")


@overload
def cas_update(
    model: type[Model],
    pk: Any,
    *,
    version: int | None = None,
    when: Q | None = None,
    returning: tuple[str, ...],
    **changes: Any,
) -> tuple[Any, ...]: ...
@overload
def cas_update(
    model: type[Model],
    pk: Any,
    *,
    version: int | None = None,
    when: Q | None = None,
    **changes: Any,
) -> None: ...
def cas_update(
    model: type[Model],
    pk: Any,
    *,
    version: int | None = None,
    when: Q | None = None,
    returning: tuple[str, ...] = (),
    **changes: Any,
) -> tuple[Any, ...] | None:
    """Apply `changes` only if the row is still as the caller saw it.

    Why: the database decides who wins a race; Python never reads, modifies, writes.
    Zero rows updated means someone else changed the row first (ConflictError).
    `returning` names columns whose new values come back from the same statement (a counter
    bumped with the change, e.g. the order's event sequence), saving a round trip.
    """
    when = when or Q()
    if version is not None:
        when &= Q(version=version)
    if not returning:
        if not guarded_update(model, pk, when=when, **changes):
            raise ConflictError(model._meta.label, pk=pk, expected_version=version)
        return None
    queryset = model._default_manager.filter(Q(pk=pk) & when)
    row = next(iter(update_returning(queryset, returning, **_bump_version(model, changes))), None)
    if row is None:
        raise ConflictError(model._meta.label, pk=pk, expected_version=version)
    return row


def guarded_update(model: type[Model], pk: Any, *, when: Q, **changes: Any) -> bool:
    """cas_update for a change that may lose its race as a matter of course (a void finding the
    authorization captured, a second copy of a step): apply `changes` to row `pk` only while
    `when` holds, in one UPDATE, and say whether it did instead of raising ConflictError."""
    return (
        model._default_manager.filter(Q(pk=pk) & when).update(**_bump_version(model, changes)) == 1
    )


class CompiledUpdate:
    """guarded_update for a hot path, compiled once per process (as ordersite.compiled's reads):
    the ORM's building and compiling of a guarded UPDATE cost more CPU than running it, about
    1 ms per call in make bench's profile. `where(*args)` is the guard beside the row's pk,
    `changes(*args)` the new values (the version moves as in guarded_update). `args` are ints,
    strings or UUIDs, and the two must depend on them alone (no clock: a constant is kept).
    The first call compiles the statement once more per argument, with that argument's value
    moved, to learn which parameters are which argument and which are constants, and refuses a
    statement whose text depends on a value (the ORM drops a guard whose value is out of its
    column's range, for one)."""

    def __init__(
        self,
        model: type[Model],
        *,
        where: Callable[..., Q],
        changes: Callable[..., dict[str, Any]],
    ) -> None:
        self.model, self._where, self._changes = model, where, changes
        self._compiled: tuple[str, list[tuple[bool, Any]]] | None = None

    def __call__(self, pk: int, *args: Any) -> bool:
        """Apply the change to row `pk` if the guard holds; say whether it did."""
        statement, sources = self._compiled or self._compile(args)
        values = (pk, *args)
        params = [values[source] if is_arg else source for is_arg, source in sources]
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.rowcount == 1

    def _compile(self, args: tuple[Any, ...]) -> tuple[str, list[tuple[bool, Any]]]:
        values = (0, *args)  # the pk's value does not matter
        statement, params = self._sql(values)
        sources: list[tuple[bool, Any]] = [(False, param) for param in params]
        for index, value in enumerate(values):
            # The same statement with this one value moved: the parameters that move with it
            # are that argument, whatever the others' values.
            moved = (*values[:index], compiled.moved(value, index), *values[index + 1 :])
            moved_statement, moved_params = self._sql(moved)
            changed = (
                [n for n, param in enumerate(moved_params) if param != params[n]]
                if moved_statement == statement
                else []
            )
            if not changed or any(sources[n][0] for n in changed):
                raise ImproperlyConfigured(
                    f"CompiledUpdate argument {index}: its value changes the statement, it is "
                    "not one of its parameters, or a parameter is made of several arguments."
                )
            for n in changed:
                sources[n] = (True, index)
        self._compiled = (statement, sources)
        return self._compiled

    def _sql(self, values: tuple[Any, ...]) -> tuple[str, tuple]:
        pk, *args = values
        queryset = self.model._default_manager.filter(Q(pk=pk) & self._where(*args))
        return update_sql(queryset, **_bump_version(self.model, self._changes(*args)))


def _bump_version(model: type[Model], changes: dict[str, Any]) -> dict[str, Any]:
    """`changes`, plus one on the row's version where the model keeps one: a versioned row never
    changes without its version moving, so a stale form or read always loses."""
    try:
        model._meta.get_field("version")
    except FieldDoesNotExist:
        return changes
    return {"version": F("version") + 1, **changes}


def update_sql(queryset: QuerySet, **changes: Any) -> tuple[str, tuple]:
    """The UPDATE that `queryset.update(**changes)` would run, compiled, for a statement that
    wraps it (update_returning, orders/timeline.py's UPDATE feeding an INSERT)."""
    query = cast(
        sql.UpdateQuery, queryset.query.chain(sql.UpdateQuery)
    )  # chain(klass) returns a klass
    query.add_update_values(changes)
    compiler = query.get_compiler(queryset.db)
    compiler.pre_sql_setup()
    statement, params = compiler.as_sql()
    return statement, tuple(params)


def update_returning(queryset: QuerySet, returning: tuple[str, ...], **changes: Any) -> list[tuple]:
    """`queryset.update(**changes)` that also returns `returning` of every row it changed, in
    one statement (Django's update() returns only a count)."""
    statement, params = update_sql(queryset, **changes)
    model = queryset.model
    columns = ", ".join(
        connection.ops.quote_name(model._meta.get_field(name).column) for name in returning
    )
    with connection.cursor() as cursor:
        cursor.execute(f"{statement} RETURNING {columns}", params)
        return cursor.fetchall()


def insert_or_get(
    model: type[_M], *, defaults: dict[str, Any] | None = None, **lookup: Any
) -> tuple[_M, bool]:
    """get_or_create for a row that is nearly always new (a step's payment or parcel): one
    `INSERT … ON CONFLICT (lookup) DO NOTHING RETURNING id`, and a read only when the row was
    already there. Django's get_or_create reads first, then inserts under a savepoint: four round
    trips on the common path instead of one. `lookup` must name a unique column (or columns)."""
    obj = model(**lookup, **(defaults or {}))
    meta = model._meta
    fields = [field for field in meta.local_concrete_fields if field is not meta.pk]
    query = sql.InsertQuery(model, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, [obj])
    [(statement, params)] = query.get_compiler(connection=connection).as_sql()
    columns = (cast(Field, meta.get_field(name)).column for name in lookup)
    target = ", ".join(connection.ops.quote_name(column) for column in columns)
    statement = statement.replace("ON CONFLICT DO NOTHING", f"ON CONFLICT ({target}) DO NOTHING")
    with connection.cursor() as cursor:
        cursor.execute(f"{statement} RETURNING {connection.ops.quote_name(meta.pk.column)}", params)
        row = cursor.fetchone()
    if row is None:
        return model._default_manager.get(**lookup), False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj, True
