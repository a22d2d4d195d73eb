"""The dead-letter queue is one room: the deadletters app, which imports no other app, names its
reasons once, and leaves nothing behind at its old addresses."""

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deadletters.envelope import Reason

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "deadletters"

# Where the queue lived before it had a room of its own.
OLD_MODULES = (
    "ordersite.dlq",
    "ordersite.dlq_worker",
    "orders.dead_letters",
    "orders.dlq_services",
    "orders.dlq_views",
    "orders.admin_dlq",
    "orders.management.commands.dlq",
)
# The project's apps besides deadletters: every top-level package with an apps.py.
OTHER_APPS = sorted(p.parent.name for p in ROOT.glob("*/apps.py") if p.parent.name != "deadletters")


@pytest.mark.parametrize("module", OLD_MODULES)
def test_the_old_dead_letter_modules_are_gone(module):
    assert importlib.util.find_spec(module) is None, (
        f"{module} is back: the DLQ lives in deadletters/"
    )


def test_the_old_dead_letter_templates_are_gone():
    assert not (ROOT / "orders/templates/admin/orders/deadletter").exists()


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_deadletters_imports_no_other_app():
    """At module level or inside a function alike: apps react through deadletters/hooks.py."""
    assert "orders" in OTHER_APPS
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_roots(path) & set(OTHER_APPS))
        for path in sorted(APP.rglob("*.py"))
    }
    assert not {path: apps for path, apps in offenders.items() if apps}


def test_the_import_contract_of_deadletters_holds():
    """The same rule as import-linter sees it (make lint runs it too)."""
    lint = subprocess.run(
        [
            str(Path(sys.executable).with_name("lint-imports")),
            "--contract",
            "deadletters-imports-only-ordersite",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


_REASON = re.compile(r"""["'](?:{})["']""".format("|".join(re.escape(r.value) for r in Reason)))


def test_dead_letter_reasons_are_spelled_only_in_their_enum():
    """A reason written as a string elsewhere drifts from the envelopes already stored."""
    offenders = []
    for path in sorted(ROOT.glob("**/*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in (".venv", "tests", "var") or relative == Path(
            "deadletters/envelope.py"
        ):
            continue
        lines = enumerate(path.read_text().splitlines(), 1)
        offenders += [f"{relative}:{number}" for number, line in lines if _REASON.search(line)]
    assert not offenders, "use deadletters.envelope.Reason:\n" + "\n".join(offenders)
