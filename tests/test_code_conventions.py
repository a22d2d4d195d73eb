"""Promises about how the code is written: one meaning per name, one way to make a guarded
change."""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "orders",
    "payments",
    "inventory",
    "shipping",
    "notifications",
    "sandboxes",
    "ordersite",
    "deadletters",
)


def _sources() -> Iterator[tuple[Path, str]]:
    for app in APPS:
        for path in sorted((ROOT / app).glob("**/*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT), path.read_text()


def _parameters(tree: ast.AST) -> Iterator[ast.arg]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)


def test_order_id_is_the_public_id_and_order_pk_the_primary_key():
    """`order_id` is an order's public UUID (a string) wherever a function takes one; a function
    that takes the integer primary key calls it `order_pk`."""
    offenders = []
    for path, source in _sources():
        for arg in _parameters(ast.parse(source)):
            if arg.arg not in ("order_id", "order_pk"):
                continue
            types = set(ast.unparse(arg.annotation).split(" | ")) if arg.annotation else set()
            if not types or ("int" in types) != (arg.arg == "order_pk"):
                offenders.append(
                    f"{path}:{arg.lineno}: {arg.arg}: "
                    f"{' | '.join(sorted(types)) or '(no annotation)'}"
                )
    assert not offenders, "order_id: str (the public id), order_pk: int (the pk):\n" + "\n".join(
        offenders
    )


# A hand-rolled compare-and-swap: one row by pk, a guard beside it, then update().
_HAND_ROLLED_CAS = re.compile(r"\.filter\(\s*pk=[^()]*,[^()]*\)\s*\.update\(")


def test_guarded_updates_go_through_ordersite_db():
    """A change that holds only while the row is as read (its status, its version) is
    cas_update or guarded_update: the same UPDATE and row count, spelled once."""
    offenders = [
        f"{path}: {match.group(0)}"
        for path, source in _sources()
        if path != Path("ordersite/db.py")
        for match in _HAND_ROLLED_CAS.finditer(source)
    ]
    assert not offenders, "use ordersite.db.cas_update or guarded_update:\n" + "\n".join(offenders)


_ORDER_BY_PUBLIC_ID = re.compile(r"\bOrder\.objects\b[^\n]*\bpublic_id=")
_LOOKUP_ALLOWED = {Path("orders/selectors.py")}


def test_an_order_is_looked_up_by_public_id_in_orders_selectors_only():
    """order_for_step (or order_by_public_id, for an id that may name nothing) everywhere else."""
    offenders = [
        f"{path}:{number}: {line.strip()}"
        for path, source in _sources()
        if path not in _LOOKUP_ALLOWED
        for number, line in enumerate(source.splitlines(), 1)
        if _ORDER_BY_PUBLIC_ID.search(line)
    ]
    assert not offenders, (
        "use orders.selectors.order_for_step or order_by_public_id:\n" + "\n".join(offenders)
    )


def test_tasks_are_sent_by_name_through_task_signature():
    """Every task the apps send by name is built by orders.pipeline.task_signature, which gives
    Celery the arguments' text (a saving on each publish, tests/ordersite/test_publish_cost.py):
    no other `signature(` call in the apps."""
    offenders = []
    for path, source in _sources():
        for node in ast.walk(ast.parse(source)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "signature"
                and path != Path("orders/pipeline.py")
            ):
                offenders.append(f"{path}:{node.lineno}")
    assert not offenders, "send tasks with orders.pipeline.task_signature:\n" + "\n".join(offenders)
