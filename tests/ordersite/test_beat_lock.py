"""Beat runs once (ordersite/beat.py): two real `celery beat` processes started at once, only the
lock holder sends periodic tasks; killed, the other takes over; stopped, it hands the lock back."""

import pytest

from ordersite.beat import BEAT_LOCK_KEY

from ..beat import Beat
from ..conftest import wait_for, worker_env
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
