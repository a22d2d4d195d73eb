"""The test doubles are installed only when SANDBOXES_ENABLED says so (by default: DEBUG).

INSTALLED_APPS cannot change inside one process, so each configuration runs in a `manage.py` of
its own, on a copy of ordersite with an empty `.env` (a developer's own never leaks in)."""

import json
import os
import subprocess
import sys

import pytest

from ..conftest import ROOT, TEST_REDIS_URL
from ..test_config_precedence import _project_copy

SANDBOX_COMMANDS = {"run_sandboxes", "sandbox_faults", "seed_demo"}
PROBE = """
import json
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import get_commands
from django.http import Http404
from django.test import RequestFactory
from django.urls import resolve

def status(path):
    request = RequestFactory().get(path)
    request.user = get_user_model()(
        username="probe", is_active=True, is_staff=True, is_superuser=True
    )
    match = resolve(path)
    try:
        response = match.func(request, *match.args, **match.kwargs)
    except Http404:
        return 404
    return response.render().status_code

print("PROBE " + json.dumps({
    "installed": apps.is_installed("sandboxes"),
    "commands": sorted(
        set(get_commands()) & {"breakers", "run_sandboxes", "sandbox_faults", "seed_demo"}
    ),
    "faults": status("/admin/faults/"),
    "breakers": status("/admin/breakers/"),
}))
"""


def _manage(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    app = _project_copy(tmp_path, "")
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DEBUG", "SANDBOXES_ENABLED", "SECRET_KEY"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=app,
        env={**clean, "PYTHONPATH": str(ROOT), "REDIS_URL": TEST_REDIS_URL, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _probe(tmp_path, **env: str) -> dict:
    run = _manage(tmp_path, "shell", "-v", "0", "-c", PROBE, **env)
    assert run.returncode == 0, run.stderr
    return json.loads(
        next(line for line in run.stdout.splitlines() if "PROBE " in line).split("PROBE ", 1)[1]
    )


@pytest.mark.parametrize(
    ("env", "installed"),
    [
        ({}, True),  # DEBUG's default, as make run and the tests have it
        ({"DEBUG": "false", "SECRET_KEY": "tests-only"}, False),  # production, unless asked
        (
            {"DEBUG": "false", "SECRET_KEY": "tests-only", "SANDBOXES_ENABLED": "true"},
            True,
        ),  # docker compose
        ({"SANDBOXES_ENABLED": "false"}, False),
    ],
)
def test_sandboxes_are_installed_and_mounted_only_when_enabled(tmp_path, env, installed):
    probe = _probe(tmp_path, **env)
    assert probe["installed"] is installed
    commands = {"breakers", *SANDBOX_COMMANDS} if installed else {"breakers"}
    assert set(probe["commands"]) == commands, (
        "the breakers command stays; the sandboxes' go with their app"
    )
    assert probe["faults"] == (200 if installed else 404)
    assert probe["breakers"] == 200, "the breakers page is operations: always there"


def test_manage_py_check_passes_without_the_sandboxes(tmp_path):
    run = _manage(tmp_path, "check", DEBUG="false", SECRET_KEY="tests-only")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no issues" in run.stdout
