"""A task for the autoscaler's integration test, loaded into its worker with --include: it holds
its pool slot as a step waiting on a gateway does."""

import time

from celery import shared_task


@shared_task(name="tests.hold_slot")
def hold_slot(seconds: float) -> None:
    time.sleep(seconds)
