"""A real worker with the backlog autoscaler (the Procfile's default pool and options) under a
real burst in its broker: its thread pool grows, then shrinks back after the cooldown."""

from ordersite.celery import app as celery_app

from .. import broker
from ..conftest import TEST_BROKER_URL, WorkerProcess, wait_for, worker_env
from .slow_task import hold_slot

QUEUE = "autoscale-test"


def test_worker_pool_grows_under_a_burst_and_shrinks_after_it(redis_client):
    env = worker_env(
        AUTOSCALE_COOLDOWN_SECONDS="3",  # shortened through settings, as every timing in tests
        AUTOSCALE_INTERVAL_SECONDS="0.25",
        AUTOSCALE_PROCESSES_PER_CPU="8",  # the host cap must not bind on a one-CPU runner
    )
    options = ("--pool=threads", "--autoscale=6,1", "--include", "tests.ordersite.slow_task")
    worker = WorkerProcess(env, queues=QUEUE, name="autoscale", pool_options=options)
    inspect = celery_app.control.inspect(destination=[worker.nodename], timeout=2)
    seen: list[dict] = []

    def stats() -> dict:
        reply = (inspect.stats() or {}).get(worker.nodename)
        assert reply, "the worker answers inspect"
        seen.append(reply)
        return reply

    try:
        assert stats()["autoscaler"]["current"] == 1
        assert stats()["pool"]["implementation"] == "ordersite.thread_pool:ResizableThreadPool"
        for _ in range(150):
            hold_slot.apply_async((0.2,), queue=QUEUE)

        wait_for(lambda: stats()["pool"]["threads"] == 6, timeout=30, interval=0.2)
        # It read the broker's backlog, not only the tasks it had reserved.
        wait_for(
            lambda: (
                stats()["autoscaler"]["backlog"] > 0
                or any(s["autoscaler"]["backlog"] for s in seen)
            ),
            timeout=10,
        )

        wait_for(lambda: broker.backlog(TEST_BROKER_URL, (QUEUE,)) == 0, timeout=60)
        # Back to one thread, really retired (not only a smaller number), within the cooldown
        # plus a generous margin for a loaded machine.
        wait_for(lambda: stats()["pool"]["threads"] == 1, timeout=40, interval=0.5)
        assert stats()["autoscaler"]["current"] == 1
        assert not any(s["pool"]["threads"] > 6 for s in seen)
    finally:
        worker.stop()
        broker.empty_queue(TEST_BROKER_URL, QUEUE)
