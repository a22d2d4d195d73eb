"""A real `celery beat` process for tests, stopped by its own PID."""

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log_file.close()
