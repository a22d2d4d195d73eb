"""The lock files: they match requirements*.txt (bin/check-lock, which also fails when they do
not), and every install goes through them."""

import re
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT


def _check_lock(root) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "bin" / "check-lock"), str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_lock_files_match_the_requirements():
    result = _check_lock(ROOT)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def lock_copy(tmp_path):
    for name in (
        "requirements.txt",
        "requirements-dev.txt",
        "requirements.lock",
        "requirements-dev.lock",
    ):
        shutil.copy(ROOT / name, tmp_path / name)
    assert _check_lock(tmp_path).returncode == 0
    return tmp_path


def test_check_lock_refuses_a_requirement_changed_without_make_lock(lock_copy):
    path = lock_copy / "requirements.txt"
    path.write_text(re.sub(r"^httpx==\S+", "httpx==0.27.0", path.read_text(), flags=re.M))
    result = _check_lock(lock_copy)
    assert result.returncode == 1
    assert (
        "requirements.txt pins httpx==0.27.0 but requirements.lock locks 0.28.1: run make lock"
        in result.stderr
    )


def test_check_lock_refuses_a_new_requirement_missing_from_the_lock(lock_copy):
    path = lock_copy / "requirements-dev.txt"
    path.write_text(path.read_text() + "not-in-any-lock-pkg==1.0\n")
    result = _check_lock(lock_copy)
    assert (
        "requirements-dev.txt pins not-in-any-lock-pkg==1.0 but requirements-dev.lock lacks it"
        in result.stderr
    )


def test_check_lock_refuses_an_unpinned_requirement_and_a_package_without_hashes(lock_copy):
    (lock_copy / "requirements.txt").write_text("Django>=5\n")
    lock = lock_copy / "requirements.lock"
    lock.write_text(
        re.sub(
            r"^(vine==\S+) \\\n(?:[ \t]+--hash=\S+(?: \\)?\n)+",
            r"\1\n",
            lock.read_text(),
            flags=re.M,
        )
    )
    result = _check_lock(lock_copy)
    assert "'Django>=5' is not pinned with ==" in result.stderr
    assert "requirements.lock: vine has no --hash" in result.stderr


def test_every_install_uses_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^\$\(BIN\)/\.installed: requirements-dev\.lock$", makefile, re.M)
    assert (
        "pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock"
        in makefile
    )
    assert "make test" in (ROOT / ".ci" / "run").read_text(), "CI installs through make"
    assert re.search(r"^lock: ", makefile, re.M)
