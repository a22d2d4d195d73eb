"""PgBouncer in transaction mode in front of the test database, on a free port of the tests' own:
the session's live worker reaches PostgreSQL only through it, so every end-to-end test runs the
pipeline the way a pooled deployment does (README, "PgBouncer"). Stopped by its own PID."""

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


class PgBouncerProcess:
    def __init__(self, port: int) -> None:
        db = connection.settings_dict
        self.port, self.user, self.dbname = port, db["USER"], db["NAME"]
        self.dir = Path(tempfile.mkdtemp(prefix="ordersite-pgbouncer-"))
        self.dir.chmod(0o755)  # pgbouncer drops root for `nobody`, who must read its config
        config = self.dir / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={self.user}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
            "auth_type = any\npool_mode = transaction\n"
            f"admin_users = {self.user}\nmax_client_conn = 200\ndefault_pool_size = 10\n"
        )
        config.chmod(0o644)
        self.log = self.dir / "pgbouncer.log"
        self._log_file = self.log.open("w")
        command = [PGBOUNCER, *(["-u", "nobody"] if os.geteuid() == 0 else []), str(config)]
        self.proc = subprocess.Popen(command, stdout=self._log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pgbouncer did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{self.dbname}"

    @property
    def env(self) -> dict[str, str]:
        """What a process needs to reach the test database through PgBouncer only."""
        return {"DATABASE_URL": self.url, "DATABASE_POOLER": "pgbouncer"}

    def _answers(self) -> bool:
        try:
            self.admin("SHOW VERSION")
        except psycopg.OperationalError:
            return False
        return True

    def admin(self, command: str) -> list[dict]:
        """A command of PgBouncer's admin console (SHOW SERVERS, SHOW STATS), as rows of dicts."""
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.user,
            dbname="pgbouncer",
            autocommit=True,
            connect_timeout=2,
        ) as conn:
            cursor = conn.execute(command)
            names = [column.name for column in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def stop(self) -> None:
        from .conftest import WorkerProcess  # (conftest imports this module)

        WorkerProcess.stop(self)  # SIGTERM by PID, SIGKILL if it lingers
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pgbouncer(django_db_setup, django_db_blocker) -> Iterator[PgBouncerProcess]:
    """Depends on the test database, so it stops before the database is dropped (PgBouncer's
    idle server connections would block the DROP)."""
    from .conftest import _free_ports

    if not Path(PGBOUNCER).exists():
        pytest.fail(
            "pgbouncer is not installed (Debian/Ubuntu: apt-get install pgbouncer); "
            "see README, PgBouncer"
        )
    with django_db_blocker.unblock():
        process = PgBouncerProcess(_free_ports(1)[0])
    yield process
    process.stop()
