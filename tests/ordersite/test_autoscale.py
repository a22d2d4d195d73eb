"""The autoscaler's decisions (ordersite/autoscale.py), as pure functions: grow toward the
backlog at once, cap by the host, shrink only after the cooldown, never thrash."""

import itertools
import threading

from ordersite.autoscale import BacklogAutoscaler, Demand, host_capacity, target_pool_size
from ordersite.thread_pool import ResizableThreadPool

COOLDOWN = 30.0


def decide(current, demands, *, now=None, minimum=2, maximum=8, host_cap=8, watching_since=-1000.0):
    """`demands`: (seconds ago, reserved, backlog), oldest first."""
    now = 1000.0 if now is None else now
    samples = [
        Demand(at=now - ago, reserved=reserved, backlog=backlog)
        for ago, reserved, backlog in demands
    ]
    return target_pool_size(
        current=current,
        minimum=minimum,
        maximum=maximum,
        host_cap=host_cap,
        demands=samples,
        now=now,
        cooldown=COOLDOWN,
        watching_since=watching_since,
    )


def test_target_pool_size_grows_straight_to_the_backlog_not_one_at_a_time():
    # 2 tasks in hand and 3 waiting in the broker: five slots at once.
    assert decide(2, [(0, 2, 3)]) == 5


def test_target_pool_size_counts_the_broker_backlog_beyond_the_reserved_tasks():
    # Celery's own autoscaler would see only the 2 reserved tasks and stay at 2.
    assert decide(2, [(0, 2, 400)]) == 8


def test_target_pool_size_never_exceeds_the_maximum_nor_the_host_cap():
    assert decide(2, [(0, 8, 1000)], maximum=20, host_cap=6) == 6
    assert decide(2, [(0, 8, 1000)], maximum=5, host_cap=16) == 5


def test_target_pool_size_keeps_the_minimum_even_above_the_host_cap():
    # The operator's minimum is a promise; the host cap only limits growth past it.
    assert decide(3, [(0, 50, 0)], minimum=3, host_cap=1) == 3


def test_target_pool_size_obeys_lowered_bounds_at_once():
    # `celery control autoscale 4 2` on a pool of 8, or the container's CPU quota shrank: no
    # cooldown to wait.
    assert decide(8, [(0, 8, 100)], maximum=4) == 4
    assert decide(8, [(0, 8, 100)], host_cap=5) == 5


def test_target_pool_size_raises_a_pool_below_a_raised_minimum():
    assert decide(2, [(0, 0, 0)], minimum=4) == 4


def test_target_pool_size_does_not_shrink_before_the_cooldown():
    # The burst ended 29 s ago: still within the cooldown, the pool stays.
    assert decide(8, [(29, 8, 0), (10, 0, 0), (0, 0, 0)]) == 8


def test_target_pool_size_shrinks_to_the_minimum_one_cooldown_after_the_last_busy_moment():
    assert decide(8, [(29, 1, 0), (10, 0, 0), (0, 0, 0)]) == 2


def test_target_pool_size_shrinks_only_to_the_largest_demand_of_the_cooldown():
    assert decide(8, [(25, 4, 0), (12, 3, 0), (0, 1, 0)]) == 4


def test_target_pool_size_does_not_shrink_before_watching_a_whole_cooldown():
    # A worker that just started has not seen what the last 30 s needed.
    assert decide(8, [(5, 0, 0), (0, 0, 0)], watching_since=1000.0 - 10) == 8


def test_target_pool_size_holds_a_steady_backlog_without_any_change():
    # A backlog that never empties, with the reserved count wobbling as tasks finish: every
    # decision over ten minutes, sampled twice a second, keeps the pool at its cap.
    pool, changes, history = 8, 0, []
    for tick in range(1200):
        now = 1000.0 + tick / 2
        history.append((now, 5 + tick % 4, 40 + tick % 7))
        history = [h for h in history if now - h[0] <= COOLDOWN]
        target = decide(pool, [(now - at, r, b) for at, r, b in history], now=now)
        changes += target != pool
        pool = target
    assert (pool, changes) == (8, 0)


def test_target_pool_size_does_not_thrash_on_a_wobbling_light_load():
    # After a burst the pool settles; then a demand that goes up and down by one task every
    # few seconds (no backlog) must not make it grow and shrink over and over.
    pool, sizes, history = 8, [], []
    for tick in range(1200):
        now = 1000.0 + tick / 2
        history.append((now, 3 + (tick // 7) % 2, 0))
        history = [h for h in history if now - h[0] <= COOLDOWN]
        pool = decide(pool, [(now - at, r, b) for at, r, b in history], now=now)
        sizes.append(pool)
    changes = sum(a != b for a, b in itertools.pairwise(sizes))
    assert changes <= 1  # one shrink from the burst's 8 to what the wobble needs, then nothing
    assert sizes[-1] == 4


def test_target_pool_size_shrink_needs_a_real_saving():
    # 8 slots and a peak of 7 in the cooldown: freeing one of eight is not worth a change.
    assert decide(8, [(20, 7, 0), (0, 6, 0)]) == 8
    assert decide(8, [(20, 6, 0), (0, 6, 0)]) == 6


def test_host_capacity_is_processes_per_cpu():
    assert (
        host_capacity(cpus=2, per_cpu=4, available_mb=None, reserve_mb=512, slot_mb=100, current=2)
        == 8
    )
    assert (
        host_capacity(
            cpus=1, per_cpu=0.5, available_mb=None, reserve_mb=512, slot_mb=100, current=1
        )
        == 1
    )


def test_host_capacity_stops_growth_when_memory_runs_short():
    # 812 MiB available, 512 kept in reserve, 100 MiB a slot: room for 3 more than the 2 running.
    assert (
        host_capacity(cpus=8, per_cpu=4, available_mb=812, reserve_mb=512, slot_mb=100, current=2)
        == 5
    )
    # Below the reserve already: no new slot, the running ones stay.
    assert (
        host_capacity(cpus=8, per_cpu=4, available_mb=300, reserve_mb=512, slot_mb=100, current=4)
        == 4
    )


def test_a_message_only_grows_the_pool_and_the_interval_shrinks_it():
    """Every message received asks the autoscaler; only growth is decided there, so a message
    costs no scan of the cooldown's demands. Shrinking waits for the interval's call."""
    pool = ResizableThreadPool(limit=1)
    pool.on_start()
    try:
        scaler = BacklogAutoscaler(pool, 4, 1, worker=None)
        scaler._sampler = threading.current_thread()  # no broker here: the backlog is set below
        scaler.watching_since -= 2 * scaler.cooldown
        scaler.backlog = 3
        assert scaler._maybe_scale(req=object()) is True
        assert scaler.processes == 3
        scaler.backlog = 0
        scaler.demands.clear()  # the busy moment is over
        assert scaler._maybe_scale(req=object()) is False
        assert scaler.processes == 3
        assert scaler._maybe_scale() is True  # the interval's call
        assert scaler.processes == 1
    finally:
        pool.on_stop()
