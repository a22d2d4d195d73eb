"""Hot reads compiled once per process.

A pipeline step reads its order, its lines, its payment on every order. For such a read Django's
query building and compiling cost more CPU than the round trip itself (about 0.45 of 0.7 ms on
the bench machine; `make bench`'s profile put the workers' ORM at a quarter of their CPU), so a
CompiledRead keeps the SQL, the column converters and the select_related populators that the
first call compiled, and later calls only bind new parameters. Rows come back as model instances
built the way Django's ModelIterable builds them.
"""

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.expressions import Col
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]

_M = TypeVar("_M", bound=Model)


@dataclass(frozen=True)
class _Compiled:
    using: str
    sql: str
    model: Any  # the queryset's model class
    init_list: list[str]
    model_slice: slice
    converters: list[tuple[int, list[Callable[..., Any]], Any]]
    populators: list[Any]


class CompiledRead(Generic[_M]):
    """`build(*args)` returns the queryset; its SQL parameters must be exactly `args`, in order
    and as the database takes them (a UUID, not its string): checked when it first compiles, so
    a read whose parameters would not line up fails on its first call, in the tests. Only plain
    filters, ordering, slicing and select_related: no annotations, no prefetching."""

    def __init__(self, build: Callable[..., QuerySet[_M]]) -> None:
        self._build = build
        self._compiled: _Compiled | None = None
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> list[_M]:
        compiled = self._compiled or self._compile(args)
        connection = connections[compiled.using]  # this thread's
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, args)
            rows = cursor.fetchall()
        objects = []
        for raw in rows:
            row = list(raw)
            for pos, converters, expression in compiled.converters:
                for convert in converters:
                    row[pos] = convert(row[pos], expression, connection)
            obj = compiled.model.from_db(
                compiled.using, compiled.init_list, row[compiled.model_slice]
            )
            for populator in compiled.populators:
                populator.populate(row, obj)
            objects.append(obj)
        return objects

    def _compile(self, args: tuple[Any, ...]) -> _Compiled:
        with self._lock:
            if self._compiled is None:
                self._compiled = _compile(self._build, args)
            return self._compiled


def moved(value: Any, index: int) -> Any:
    """`value` moved by an amount of its own for argument `index`: compiling once more with every
    argument moved tells which parameter is which, even where two arguments were equal."""
    if isinstance(value, bool) or not isinstance(value, int | str | uuid.UUID):
        raise ImproperlyConfigured(f"Compiled statements take ints, strings or UUIDs: {value!r}")
    if isinstance(value, uuid.UUID):
        return uuid.UUID(int=(value.int + index + 1) % 2**128)
    return value + index + 1 if isinstance(value, int) else f"{value}{'-' * (index + 1)}"


def _compile(build: Callable[..., QuerySet], args: tuple[Any, ...]) -> _Compiled:
    queryset = build(*args)
    # Django's private state of a queryset, absent from the stubs.
    if queryset._prefetch_related_lookups or queryset._known_related_objects:  # type: ignore[attr-defined]
        raise ImproperlyConfigured("A CompiledRead cannot prefetch or carry known objects.")
    compiler = queryset.query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    other = tuple(moved(arg, index) for index, arg in enumerate(args))
    other_sql, other_params = build(*other).query.get_compiler(using=queryset.db).as_sql()
    if list(params) != list(args) or other_sql != sql or list(other_params) != list(other):
        raise ImproperlyConfigured(
            f"A CompiledRead's parameters must be its arguments, in order: {params!r} != {args!r}"
        )
    columns = [column for column, _, _ in compiler.select[: compiler.col_count]]
    if compiler.annotation_col_map or not all(isinstance(c, Col) for c in columns):
        raise ImproperlyConfigured("A CompiledRead selects model columns only.")
    klass_info = compiler.klass_info
    first, last = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    return _Compiled(
        using=queryset.db,
        sql=sql,
        model=klass_info["model"],
        init_list=[column.target.attname for column in columns[first:last]],
        model_slice=slice(first, last),
        converters=[
            (pos, converters, expression)
            for pos, (converters, expression) in compiler.get_converters(columns).items()
        ],
        populators=get_related_populators(klass_info, compiler.select, queryset.db),
    )
