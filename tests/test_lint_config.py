"""The pre-commit hooks run what `make lint` runs, from the pinned tools in .venv, fetching
nothing."""

import shlex
import subprocess

import yaml

from .conftest import ROOT


def _make_lint_commands() -> list[str]:
    """`make lint`'s commands as make would run them (variables expanded; the venv left alone)."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "-o", ".venv/bin/.installed", "lint"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line.strip() for line in result.stdout.splitlines() if line.strip()]


def _hooks() -> list[dict]:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return [hook for repo in config["repos"] for hook in repo["hooks"]]


def test_pre_commit_runs_make_lint_command_for_command():
    """The hooks that take no file names are make lint's commands over the whole tree, in order."""
    whole_tree = [hook["entry"] for hook in _hooks() if hook.get("pass_filenames") is False]
    assert whole_tree == _make_lint_commands()
    assert all(hook.get("always_run") for hook in _hooks() if hook.get("pass_filenames") is False)


def test_make_lint_runs_the_checks_of_style_md():
    commands = _make_lint_commands()
    for check in (
        "ruff check .",
        "ruff format --check .",
        "lint-imports",
        "mypy",
        "manage.py check",
        "makemigrations --check",
        "check --deploy",
    ):
        assert any(check in command for command in commands), check


def test_every_hook_is_local_and_runs_a_pinned_tool_from_the_venv():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"], "hooks come from no git host"
    pinned = (ROOT / "requirements-dev.txt").read_text()
    assert "pre-commit==" in pinned
    assert "pre-commit-hooks==" in pinned
    for hook in _hooks():
        assert hook["language"] == "system", hook["id"]
        words = shlex.split(hook["entry"])
        program = next(word for word in words if word != "env" and "=" not in word)
        assert program.startswith(".venv/bin/"), hook["id"]
        assert (ROOT / program).exists(), f"{hook['id']}: {program} is not installed (make lock?)"
