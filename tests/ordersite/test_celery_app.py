"""The Celery app loads as the Procfile starts it: `celery -A ordersite …` in a shell where
DJANGO_SETTINGS_MODULE is not set (the app sets it). A module the app imports before that must
not touch Django's settings: once one did, and every process of `make run` died at start."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_procfile_kind_of_process_loads_the_app_without_django_settings_module():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    for args in (["-m", "celery", "-A", "ordersite", "report"], ["-c", "import ordersite.celery"]):
        done = subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
