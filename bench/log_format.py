"""What a log line and an order's log context cost: one status-change line rendered by the old
plain formatter, by the JSON and by the console formatter, and the per-task context work (the
header a publish adds, binding it before the task, the step's order id, clearing after).

    python bench/log_format.py [lines]
Prints the best of five runs, in microseconds per line and per task; no service needed."""

import logging
import os
import sys
import timeit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ordersite.settings")

from structlog.contextvars import bind_contextvars

from ordersite import logs

ORDER_ID = "99825d9e-3a2c-47bd-bc02-9ad691cc89be"
CARRIED = {
    "order_id": ORDER_ID,
    "correlation_id": "83d3cb61-d62f-4a05-89ad-a037332244c4",
    "request_id": "094a55d6",
}


class _Request:
    log_context = CARRIED


class _Task:
    name = "payments.authorize_payment"
    request = _Request()


def _line() -> logging.LogRecord:
    record = logging.LogRecord(
        "orders.services", logging.INFO, __file__, 1, "order %s -> %s", (ORDER_ID, "paid"), None
    )
    record.__dict__.update(status="paid", event_kind="payment_authorized")
    return record


def _task_context() -> None:
    logs._propagate(headers={})
    logs._bind_task(task_id="5dd468e1-4ca5-460a-8916-1e0d87626d3f", task=_Task())
    logs.bind_order(order_id=ORDER_ID)
    logs._unbind_task()


def best_of_five(work: object, number: int) -> float:
    return min(timeit.repeat(work, number=number, repeat=5)) / number * 1e6


def main() -> None:
    number = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    bind_contextvars(
        task="payments.authorize_payment", task_id="5dd468e1-4ca5-460a-8916-1e0d87626d3f", **CARRIED
    )
    record = _line()
    formatters = {
        "plain (before)": logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"),
        "json": logs.formatter("json"),
        "console": logs.formatter("console"),
    }
    for name, formatter in formatters.items():
        print(
            f"{name:15s} {best_of_five(lambda f=formatter: f.format(record), number):6.1f} us/line"
        )
    print(f"{'task context':15s} {best_of_five(_task_context, number):6.1f} us/task")


if __name__ == "__main__":
    main()
