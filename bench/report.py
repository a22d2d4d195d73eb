"""How `make bench` prints a step and sums its runs up: medians, and ours beside the floors."""

import statistics


def format_step(s: dict) -> str:
    roles = " ".join(f"{k}={v}" for k, v in s["cpu_ms_by_role"].items())
    return (
        f"offered {s['offered_per_s']:6.1f}/s accepted {s['accepted_per_s']:6.1f}/s completed "
        f"{s['completed_per_s']:6.1f}/s | api p50/p95/p99 "
        f"{s['api_ms']['p50']}/{s['api_ms']['p95']}/{s['api_ms']['p99']} ms | "
        f"e2e {s['e2e_ms']['p50']}/{s['e2e_ms']['p95']}/{s['e2e_ms']['p99']} ms | "
        f"err {s['errors']} unfinished {s['unfinished']} | "
        f"cpu {s['cpu_ms_per_order']} ms/order ({roles}) | "
        f"commits {s['commits_per_order']} rows {s['rows_fetched_per_order']} "
        f"redis {s['redis_commands_per_order']} retries {s['retries_per_order']}"
    )


def median_of(runs: list[dict], path: tuple) -> float:
    values = []
    for run in runs:
        value = run
        for key in path:
            value = value[key]
        values.append(value)
    return round(statistics.median(values), 2)


def summary(runs: list[dict]) -> dict:
    m = lambda *path: median_of(runs, path)  # noqa: E731
    ours_cpu = m("at70", "cpu_ms_per_order")
    floor_cpu = m("floors", "minimal_order_at_70", "cpu_ms_per_order")
    return {
        "runs": len(runs),
        "trivial_post_per_s": m("floors", "trivial_post", "requests_per_s"),
        "trivial_post_web_cpu_ms": m("floors", "trivial_post", "web_cpu_ms_per_request"),
        "noop_chain_per_s": m("floors", "noop_chain", "chains_per_s"),
        "noop_chain_cpu_ms": m("floors", "noop_chain", "cpu_ms_per_order"),
        "minimal_order_per_s": m("floors", "minimal_order", "completed_per_s"),
        "minimal_order_cpu_ms": m("floors", "minimal_order", "cpu_ms_per_order"),
        "ours_saturation_per_s": m("burst", "completed_per_s"),
        "ours_burst_cpu_ms": m("burst", "cpu_ms_per_order"),
        "at70_rate_per_s": m("at70", "offered_per_s"),
        "ours_at70_cpu_ms": ours_cpu,
        "minimal_order_at70_cpu_ms": floor_cpu,
        "cpu_ratio_vs_minimal_order": round(ours_cpu / floor_cpu, 2) if floor_cpu else None,
        "saturation_vs_minimal_order_pct": round(
            100 * m("burst", "completed_per_s") / m("floors", "minimal_order", "completed_per_s"), 1
        ),
        "ours_at70_api_p95_ms": m("at70", "api_ms", "p95"),
        "ours_at70_e2e_p95_ms": m("at70", "e2e_ms", "p95"),
    }
