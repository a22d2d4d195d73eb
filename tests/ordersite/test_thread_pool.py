"""The resizable thread pool (ordersite/thread_pool.py): it runs tasks as Celery's thread pool
does, and grows and shrinks without cutting a running task short."""

import threading

import pytest
from celery import concurrency

from ordersite.thread_pool import ResizableThreadPool

from ..conftest import wait_for


@pytest.fixture
def pool():
    started = ResizableThreadPool(limit=2)
    started.start()
    yield started
    started.stop()


def alive(pool) -> int:
    return pool.info["threads"]


def test_threads_pool_name_is_the_resizable_pool():
    # ordersite/celery.py makes `--pool=threads` select it: Celery's CLI takes no dotted path.
    assert concurrency.get_implementation("threads") is ResizableThreadPool


def test_pool_runs_tasks_and_hands_back_their_results(pool):
    results = []
    pool.apply_async(lambda a, b: a + b, (2, 3), callback=results.append).wait(5)
    assert results == [5]


def test_pool_grow_starts_threads_at_once_and_runs_that_many_tasks_side_by_side(pool):
    pool.grow(3)
    assert pool.num_processes == 5
    assert alive(pool) == 5
    release, running = threading.Event(), []
    lock = threading.Lock()

    def hold():
        with lock:
            running.append(1)
        release.wait(10)

    for _ in range(5):
        pool.apply_async(hold, callback=lambda _: None)
    wait_for(lambda: len(running) == 5, timeout=5)
    release.set()


def test_pool_shrink_retires_idle_threads_and_lets_a_running_task_finish(pool):
    pool.grow(2)
    release, finished = threading.Event(), []
    result = pool.apply_async(lambda: release.wait(10), callback=finished.append)
    pool.shrink(3)
    assert pool.num_processes == 1
    wait_for(lambda: alive(pool) == 1, timeout=5)  # the three idle ones left at once
    assert not finished
    release.set()
    result.wait(5)
    assert finished == [True]
    assert alive(pool) == 1


def test_pool_shrinks_to_no_thread_and_grows_back(pool):
    pool.shrink(2)
    wait_for(lambda: alive(pool) == 0, timeout=5)
    results = []
    pending = pool.apply_async(lambda: "ran", callback=results.append)
    pool.grow(1)
    pending.wait(5)
    assert results == ["ran"]


def test_pool_stop_drops_tasks_not_started_and_ends_every_thread():
    stopped = ResizableThreadPool(limit=1)
    stopped.start()
    release, ran = threading.Event(), []
    stopped.apply_async(lambda: release.wait(10), callback=lambda _: None)
    queued = stopped.apply_async(lambda: ran.append(1), callback=lambda _: None)
    threading.Timer(0.2, release.set).start()
    stopped.stop()
    assert queued.f.cancelled()
    assert not ran
    assert alive(stopped) == 0


def test_a_trace_that_fails_outside_the_task_still_answers_its_request(pool):
    """Celery's thread pool left such a request unanswered: its message was never acknowledged,
    and a worker whose every prefetch slot held one took no more work (a PostgreSQL restart did
    it, through the result backend)."""
    answers = []

    def trace_that_fails() -> None:
        raise RuntimeError("the result backend raised while recording a failure")

    pool.apply_async(trace_that_fails, (), callback=answers.append)
    wait_for(lambda: answers, timeout=5)
    failed, exc_info, _runtime = answers[0]
    assert failed == 1
    raised = getattr(
        exc_info.exception, "exc", exc_info.exception
    )  # as Celery's Request unwraps it
    assert isinstance(raised, RuntimeError)
