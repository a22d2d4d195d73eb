"""The short chaos runs: bench/chaos.py starts a whole system of its own (its own Redis and
PostgreSQL, gunicorn, the sandboxes, a worker per queue, beat), drives each scenario's load and
fault, and audits. Each scenario must lose nothing, charge nothing twice, hold nothing after a
terminal state and breach no invariant.

All scenarios run once, in one subprocess (a few minutes); the tests read its JSON result.
Every scenario must pass: none is skipped or expected to fail.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SCENARIOS = (
    "kill-workers",
    "redis-restart",
    "postgres-restart",
    "payments-down",
    "carriers-down",
    "primary-timeout",
    "burst",
    "flaky-card",
    "idempotency-retries",
    "cancel-storm",
    "dlq-staff",
)
CONTENT_RULES = {"timeline.customer_internals"}  # judged by its own test below
RUN_TIMEOUT_S = 540

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(RUN_TIMEOUT_S + 120)]


@pytest.fixture(scope="module")
def chaos(tmp_path_factory) -> dict:
    """Every scenario's short run: `python bench/chaos.py --short --all`, stopped (it stops what
    it started) if it overruns."""
    out = tmp_path_factory.mktemp("chaos")
    command = [
        sys.executable,
        "bench/chaos.py",
        "--short",
        "--all",
        "--json-out",
        str(out / "result.json"),
    ]
    command += [
        "--logs",
        str(out / "logs"),
        "--ports",
        os.environ.get("TEST_SANDBOX_PORTS", "8300-8399"),
    ]
    with (out / "chaos.out").open("w") as log:
        run = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            run.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            run.send_signal(signal.SIGTERM)
            run.wait(timeout=90)
    printed = (out / "chaos.out").read_text()
    assert (out / "result.json").exists(), f"bench/chaos.py wrote no result:\n{printed[-4000:]}"
    result = json.loads((out / "result.json").read_text())
    result["printed"] = printed
    return result


def _scenario(chaos: dict, name: str) -> dict:
    assert name in chaos["scenarios"], f"{name} did not run:\n{chaos['printed'][-4000:]}"
    return chaos["scenarios"][name]


@pytest.mark.parametrize("name", SCENARIOS)
def test_chaos_short_run_loses_nothing_and_holds_nothing(chaos, name):
    run = _scenario(chaos, name)
    breaches = {rule: n for rule, n in run["by_rule"].items() if rule not in CONTENT_RULES}
    details = json.dumps(
        {"examples": run["examples"], "timelines": run["timelines"], "notes": run["notes"]},
        indent=1,
    )
    assert run["accepted"] == run["sent"] > 0, f"orders were refused: {run['http']}"
    assert (run["lost"], run["double_charges"], run["held_after_terminal"]) == (0, 0, 0), details
    assert breaches == {}, details
    assert run["died"] == [], "a process died without being asked to"


def test_chaos_short_runs_show_customers_no_internals(chaos):
    leaks = {
        name: run["by_rule"].get("timeline.customer_internals", 0)
        for name, run in chaos["scenarios"].items()
    }
    assert set(leaks.values()) == {0}, leaks


def test_chaos_short_runs_cover_every_scenario(chaos):
    assert set(chaos["scenarios"]) == set(SCENARIOS), chaos["printed"][-4000:]
