"""Promises about the repository itself: every setting documented, Procfile and compose agree."""

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _env_vars_read_in_settings() -> set[str]:
    source = "".join(path.read_text() for path in (ROOT / "ordersite" / "settings").glob("*.py"))
    return set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', source))


def test_every_env_var_is_in_the_readme_and_env_example():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    names = _env_vars_read_in_settings()
    assert names, "ordersite/settings/ reads its variables through env"
    assert not {n for n in names if f"`{n}`" not in readme}, (
        "missing from README's configuration table"
    )
    assert not {n for n in names if not re.search(rf"^#? ?{n}=", example, re.M)}, (
        "missing from .env.example"
    )


def _procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_docker_compose_runs_every_procfile_process_with_the_same_command():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name, command in _procfile().items():
        service = name.replace("_", "-")
        assert service in services, f"{service} missing from docker-compose.yml"
        assert services[service]["command"] == command, (
            f"{service} runs something else than the Procfile"
        )


def test_compose_redis_keeps_the_dead_letter_queue_on_disk():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["redis"]["command"]
    assert "--appendonly yes" in command


# Ways to build a Redis client (or its pool) by hand; ordersite/redis.py is the one place that may.
_REDIS_CONSTRUCTION = re.compile(
    r"\b(?:Strict)?Redis\(|\bfrom_url\(|\bConnectionPool\(|\bSentinel\(|\bRedisCluster\("
)


def test_every_redis_client_comes_from_the_factory():
    """One pool per URL and process, Sentinel in one place: nothing else builds a Redis client."""
    offenders = []
    for path in sorted(ROOT.glob("**/*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in (".venv", "tests", "var") or relative == Path("ordersite/redis.py"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _REDIS_CONSTRUCTION.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert not offenders, "build Redis clients with ordersite.redis.client():\n" + "\n".join(
        offenders
    )


# Session state that PgBouncer's transaction mode would carry over to another client's
# transaction: a session SET, a session-level advisory lock, LISTEN, a named prepared statement
# (SQL keywords are written in capitals here).
_SESSION_STATE = re.compile(
    r"""["'](?:SET\s+(?!LOCAL\b)(?:SESSION\s+)?\w+\s*(?:=|TO\b)|LISTEN\s|PREPARE\s)|pg_advisory_lock|pg_try_advisory_lock\(""",
)


def test_no_session_state_survives_a_transaction():
    """DATABASE_POOLER=pgbouncer (transaction mode) must be safe: settings only per transaction
    (SET LOCAL, set_config(..., true)), advisory locks only pg_advisory_xact_lock."""
    offenders = []
    for path in sorted(ROOT.glob("**/*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in (".venv", "tests", "var", "bench"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _SESSION_STATE.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert not offenders, "session state under a transaction-mode pooler:\n" + "\n".join(offenders)


# What takes a breaker's name: the breaker itself, the proxy that puts an adapter behind one, and
# the errors naming the breaker that refused a call.
_NAMED_BY_FIRST_ARGUMENT = {"Breaker", "CircuitOpenError", "BreakerUnavailableError"}


def _breaker_name_given(call: ast.Call) -> ast.expr | None:
    func = call.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if called in _NAMED_BY_FIRST_ARGUMENT and call.args:
        return call.args[0]
    if called == "guarded":
        return next((keyword.value for keyword in call.keywords if keyword.arg == "breaker"), None)
    return None


def test_every_breaker_is_named_through_the_breaker_name_enum():
    """`payment` or `payments`? BreakerName (ordersite/breakers.py) is the one spelling: a breaker
    named by a string literal or an f-string anywhere else (tests and benches too) is refused."""
    offenders = []
    for path in sorted(ROOT.glob("**/*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in (".venv", "var") or relative == Path("ordersite/breakers.py"):
            continue
        module = ast.parse(path.read_text())
        # A module's own string constant (`BREAKER = "payment"`) is a literal under another name.
        constants = {
            target.id
            for statement in module.body
            if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant)
            for target in statement.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(module):
            name = _breaker_name_given(node) if isinstance(node, ast.Call) else None
            if name is None:
                continue
            parts = list(ast.walk(name))
            literal = any(isinstance(part, ast.Constant | ast.JoinedStr) for part in parts)
            if literal or any(
                isinstance(part, ast.Name) and part.id in constants for part in parts
            ):
                offenders.append(f"{relative}:{node.lineno}: {ast.unparse(node)}")
    assert not offenders, "name breakers with BreakerName members:\n" + "\n".join(offenders)
