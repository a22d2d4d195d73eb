"""Beat runs once (ordersite/beat.py): two real `celery beat` processes started at once, only the
lock holder sends periodic tasks; killed, the other takes over; stopped, it hands the lock back."""

import subprocess
import sys

import pytest
from django.db import connection

from ordersite.beat import BEAT_LOCK_KEY

from ..beat import Beat
from ..conftest import ROOT, _free_ports, wait_for, worker_env
from ..dlq.conftest import ISOLATED_BROKER_URL

pytestmark = pytest.mark.django_db(transaction=True)

LOCK_SECONDS = 3
SENT = "Sending due task resend-stuck-orders"
TOOK = "took the beat lock"


def test_of_two_beats_one_dispatches_and_the_other_takes_over_when_it_dies(redis_client):
    env = worker_env(
        CELERY_BROKER_URL=ISOLATED_BROKER_URL,  # the session's worker must not run what they send
        BEAT_LOCK_SECONDS=str(LOCK_SECONDS),
        PIPELINE_RECONCILE_EVERY_SECONDS="1",
    )
    beats = [Beat("a", env), Beat("b", env)]
    try:
        holder = wait_for(lambda: next((b for b in beats if b.count(TOOK)), None), timeout=60)
        standby = beats[1 - beats.index(holder)]
        wait_for(lambda: holder.count(SENT) >= 4, timeout=30)
        assert standby.proc.poll() is None, standby.log.read_text()[-2000:]
        assert standby.count(SENT) == 0
        assert standby.count(TOOK) == 0

        holder.kill()
        sent_before = holder.count(SENT)
        wait_for(lambda: standby.count(TOOK), timeout=LOCK_SECONDS * 3)
        wait_for(lambda: standby.count(SENT) >= 2, timeout=20)
        assert holder.count(SENT) == sent_before

        standby.stop()  # a clean stop hands the lock back at once
        assert redis_client.get(BEAT_LOCK_KEY) is None
    finally:
        for beat in beats:
            beat.kill()


def test_a_beat_that_reads_its_schedule_while_postgresql_is_down_waits_for_it(redis_client):
    """The full re-read (on taking the lock, and every few minutes) found PostgreSQL restarting
    and the beat exited (the chaos run's postgres-restart): it must wait and carry on instead."""
    port = _free_ports(1)[0]
    db = connection.settings_dict
    env = worker_env(
        CELERY_BROKER_URL=ISOLATED_BROKER_URL,
        BEAT_LOCK_SECONDS=str(LOCK_SECONDS),
        PIPELINE_RECONCILE_EVERY_SECONDS="1",
        DATABASE_URL=f"postgres://{db['USER']}@127.0.0.1:{port}/{db['NAME']}",
    )
    forward = [f"{port}=127.0.0.1:{db['PORT'] or 5432}"]
    postgres = _Forwarder(forward)
    beat = Beat("pg", env)
    try:
        wait_for(lambda: beat.count(SENT) >= 2, timeout=60)
        postgres.stop()  # "PostgreSQL" refuses connections from here on
        redis_client.delete(BEAT_LOCK_KEY)  # lost, then taken again: the schedule is re-read
        wait_for(lambda: beat.count("PostgreSQL unreachable"), timeout=LOCK_SECONDS * 5)
        assert beat.proc.poll() is None, beat.log.read_text()[-3000:]

        postgres = _Forwarder(forward)
        sent = beat.count(SENT)
        wait_for(lambda: beat.count(SENT) >= sent + 2, timeout=30)
        assert beat.proc.poll() is None
    finally:
        beat.kill()
        postgres.stop()


class _Forwarder:
    """bench/tcp_forward.py as the database's address: stopped (SIGKILL), connections refused."""

    def __init__(self, rules: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "tcp_forward.py"), "127.0.0.1", *rules],
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == b"forwarding"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
