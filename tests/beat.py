"""A real `celery beat` process for tests, stopped by its own PID."""

import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, WorkerProcess


class Beat:
    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.log = ROOT / "var" / f"beat-{name}-{os.getpid()}.log"
        self.log.parent.mkdir(exist_ok=True)
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "ordersite", "beat", "-l", "info"],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def count(self, text: str) -> int:
        return Path(self.log).read_text().count(text)

    stop = WorkerProcess.stop  # SIGTERM by PID, SIGKILL if it lingers

    def kill(self) -> None:
        """SIGKILL, as a crashed host: the lock is left to expire."""
        self.proc.kill()
        self.stop()
