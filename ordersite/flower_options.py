"""Flower's options, taken from our settings (so `.env` and the environment reach it the same way).

Flower reads only its flags, `FLOWER_*` variables and a config file; `ordersite/flowerconfig.py`
(passed with `--conf`) turns these options into that file. Flower's API can run any task and
shut workers down, so it never starts without a login unless DEBUG, and listens on loopback
unless told otherwise.
"""

import logging
import re
from typing import Any

from django.conf import settings

# A pipeline step's only argument is the order's public id: shown as "order <id>", and any other
# argument list cut short, so the tasks page stays one readable line per task.
ORDER_ID_ARGS = re.compile(
    r"^[\[(]'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})',?[\])]$"
)
MAX_ARGS_CHARS = 120
logger = logging.getLogger(__name__)
TASKS_COLUMNS = "name,args,kwargs,state,received,runtime,retries,worker,uuid"
# Flower keeps its events in memory and writes them to FLOWER_DB at a clean stop; saving every
# minute too bounds what a killed Flower loses.
STATE_SAVE_INTERVAL_MS = 60_000


class FlowerLoginMissingError(SystemExit):
    """Raised from Flower's config file: Flower prints the message and exits with status 1."""


def flower_options() -> dict[str, Any]:
    """Every Flower option we set; refuses (exits non-zero) when DEBUG is off and no login is
    set."""
    logins = [login for login in settings.FLOWER_BASIC_AUTH.split(",") if login]
    if not logins and not settings.DEBUG:
        raise FlowerLoginMissingError(
            "Flower refuses to start without a login when DEBUG is false: its API can run any "
            "task. Set FLOWER_BASIC_AUTH=user:password (in the environment or .env)."
        )
    if not logins:
        logger.warning(
            "Flower has no login (DEBUG): anyone reaching %s can run tasks", settings.FLOWER_ADDRESS
        )
    settings.FLOWER_DB.parent.mkdir(parents=True, exist_ok=True)
    return {
        "basic_auth": logins,
        "address": settings.FLOWER_ADDRESS,
        "persistent": True,
        "db": str(settings.FLOWER_DB),
        "state_save_interval": STATE_SAVE_INTERVAL_MS,
        "tasks_columns": TASKS_COLUMNS,
        "format_task": format_task,
    }


def format_task(task: Any) -> Any:
    """Flower calls this on a copy of each task it shows (a celery.events.state.Task)."""
    args = task.args or ""
    match = ORDER_ID_ARGS.match(args)
    if match:
        task.args = f"order {match[1]}"
    elif len(args) > MAX_ARGS_CHARS:
        task.args = args[:MAX_ARGS_CHARS] + "…"
    if task.kwargs and len(task.kwargs) > MAX_ARGS_CHARS:
        task.kwargs = task.kwargs[:MAX_ARGS_CHARS] + "…"
    return task
