"""The real environment wins over `.env`, which wins over the defaults: for the processes `make run`
starts under honcho, and for manage.py, celery and gunicorn reading ordersite/settings/.

Each test runs real processes in a directory of its own, with a `.env` written there, so a
developer's own `.env` is never touched."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from .conftest import ROOT, _free_ports, wait_for

VENV_BIN = str(Path(sys.executable).parent)
# Names the tests set in one layer or another; none may leak in from the caller's environment.
LAYERED = (
    "IN_ENV_AND_FILE",
    "IN_FILE_AND_DEFAULT",
    "ONLY_DEFAULT",
    "API_PAGE_SIZE",
    "API_MAX_PAGE_SIZE",
    "DLQ_PAGE_SIZE",
    "FLOWER_BASIC_AUTH",
    "CELERY_TASK_SOFT_TIME_LIMIT",
    "CELERY_TASK_TIME_LIMIT",
    "DEBUG",
    "ALLOWED_HOSTS",
    "GUNICORN_CMD_ARGS",
)
PROBE = """
import json, os
from django.conf import settings
variables = ("IN_ENV_AND_FILE", "IN_FILE_AND_DEFAULT", "ONLY_DEFAULT")
read = ("API_PAGE_SIZE", "API_MAX_PAGE_SIZE", "DLQ_PAGE_SIZE", "FLOWER_BASIC_AUTH")
print("PROBE " + json.dumps({
    "env": {name: os.environ.get(name) for name in variables},
    "settings": {name: getattr(settings, name) for name in read},
}), flush=True)
"""


def _environment(**layer: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in LAYERED}
    env.update(PATH=f"{VENV_BIN}:{os.environ['PATH']}", PYTHONUNBUFFERED="1", **layer)
    return env


def test_make_run_processes_see_the_environment_over_dotenv_over_defaults(tmp_path):
    (tmp_path / ".env").write_text(
        "IN_ENV_AND_FILE=file\nIN_FILE_AND_DEFAULT=file\n"
        "API_PAGE_SIZE=8\nAPI_MAX_PAGE_SIZE=55\nFLOWER_BASIC_AUTH=admin:from-file\n"
    )
    (tmp_path / "probe.py").write_text(PROBE)
    (tmp_path / "Procfile").write_text("probe: python probe.py\n")
    env = _environment(
        IN_ENV_AND_FILE="env",
        API_PAGE_SIZE="7",
        PYTHONPATH=str(ROOT),
        DJANGO_SETTINGS_MODULE="ordersite.settings",
    )
    defaults = {
        "IN_ENV_AND_FILE": "default",
        "IN_FILE_AND_DEFAULT": "default",
        "ONLY_DEFAULT": "default",
        "FLOWER_BASIC_AUTH": "admin:from-make",
    }
    command = [sys.executable, str(ROOT / "bin" / "run-procfile")]
    for name, value in defaults.items():
        command += ["--default", f"{name}={value}"]

    run = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )

    assert run.returncode == 0, run.stdout + run.stderr
    probe = json.loads(
        next(line for line in run.stdout.splitlines() if "PROBE " in line).split("PROBE ", 1)[1]
    )
    assert probe["env"] == {
        "IN_ENV_AND_FILE": "env",
        "IN_FILE_AND_DEFAULT": "file",
        "ONLY_DEFAULT": "default",
    }
    assert probe["settings"] == {
        "API_PAGE_SIZE": 7,
        "API_MAX_PAGE_SIZE": 55,
        "DLQ_PAGE_SIZE": 50,
        "FLOWER_BASIC_AUTH": "admin:from-file",
    }
    # The login make run prints is the one Flower will use.
    assert "(admin / from-file)" in run.stdout


# Two programs that each wait, at most 20 s, for a file the other writes: `first` prints its count
# only once `second` has spoken (honcho stops every program when one ends), and `second` ends once
# `first` has printed. Each ends by itself even if the other never comes.
WAIT_FOR = """
import time
from pathlib import Path

def wait_for(name):
    deadline = time.monotonic() + 20
    while not Path(name).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
"""
FIRST = (
    WAIT_FOR
    + """
import os

wait_for("second-said")
pid, chain = os.getppid(), []
while pid > 1:
    chain.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\\0", b" ").decode())
    pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
print("ANCESTORS", sum("run-procfile" in cmdline for cmdline in chain), flush=True)
Path("first-said").touch()
"""
)
SECOND = (
    WAIT_FOR
    + """
print("second says", 1, flush=True)
Path("second-said").touch()
wait_for("first-said")
"""
)


def test_make_run_relays_output_with_threads_of_its_own_process(tmp_path):
    """honcho's own relay forks a process per program (each a copy of bin/run-procfile) and passes
    every line through a multiprocessing queue, at about 0.3 ms of CPU a line; ThreadedManager
    reads each program's output in a thread of bin/run-procfile itself. Every line still
    arrives, each program's under its name."""
    (tmp_path / "first.py").write_text(FIRST)
    (tmp_path / "second.py").write_text(SECOND)
    (tmp_path / "Procfile").write_text("first: python first.py\nsecond: python second.py\n")
    run = subprocess.run(
        [sys.executable, str(ROOT / "bin" / "run-procfile")],
        cwd=tmp_path,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    ancestors = next((line for line in lines if "ANCESTORS" in line), run.stdout)
    assert ancestors.startswith(tuple(f"{hh:02d}" for hh in range(24)))  # honcho's prefix
    assert "first.1" in ancestors
    assert ancestors.endswith("ANCESTORS 1")
    assert any("second.1" in line and line.endswith("second says 1") for line in lines)


def _project_copy(tmp_path: Path, dotenv: str) -> Path:
    """manage.py and the ordersite package (its settings read the .env beside it) in a folder of
    their own; the apps still come from the repository through PYTHONPATH."""
    app = tmp_path / "app"
    shutil.copytree(
        ROOT / "ordersite", app / "ordersite", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "manage.py", app / "manage.py")
    (app / ".env").write_text(dotenv)
    return app


def test_manage_py_and_celery_read_the_environment_over_dotenv_over_defaults(tmp_path):
    app = _project_copy(
        tmp_path,
        "API_PAGE_SIZE=8\nAPI_MAX_PAGE_SIZE=55\nCELERY_TASK_SOFT_TIME_LIMIT=44\nCELERY_TASK_TIME_LIMIT=99\n",
    )
    env = _environment(API_PAGE_SIZE="7", CELERY_TASK_SOFT_TIME_LIMIT="33", PYTHONPATH=str(ROOT))
    code = (
        "from django.conf import settings as s; "
        "print(s.API_PAGE_SIZE, s.API_MAX_PAGE_SIZE, s.DLQ_PAGE_SIZE)"
    )

    shell = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "ordersite", "report"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert shell.stdout.split() == ["7", "55", "50"], shell.stderr
    assert "CELERY_TASK_SOFT_TIME_LIMIT: 33" in report.stdout, report.stderr
    assert "CELERY_TASK_TIME_LIMIT: 99" in report.stdout


def test_gunicorn_serves_with_the_environment_over_dotenv_over_defaults(tmp_path):
    # .env asks for DEBUG and names the only allowed host; the environment turns DEBUG off.
    app = _project_copy(tmp_path, "DEBUG=true\nALLOWED_HOSTS=precedence.test\n")
    port = _free_ports(1)[0]
    # Plain HTTP: without DEBUG every other request would be redirected to https.
    env = _environment(
        DEBUG="false", SECRET_KEY="tests-only", SECURE_SSL_REDIRECT="false", PYTHONPATH=str(ROOT)
    )
    log = (tmp_path / "gunicorn.log").open("w")
    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "ordersite.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=app,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def answer(host: str) -> httpx.Response | None:
            try:
                return httpx.get(
                    f"http://127.0.0.1:{port}/no-such-page/", headers={"Host": host}, timeout=5
                )
            except httpx.TransportError:
                assert gunicorn.poll() is None, (tmp_path / "gunicorn.log").read_text()
                return None

        allowed = wait_for(lambda: answer("precedence.test"), timeout=60, interval=0.2)
        assert allowed.status_code == 404
        assert "Using the URLconf" not in allowed.text, "DEBUG from .env beat the environment"
        assert answer("127.0.0.1").status_code == 400, (
            "ALLOWED_HOSTS from .env did not beat the default"
        )
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        log.close()
