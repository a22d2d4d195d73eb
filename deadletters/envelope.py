"""A dead letter's envelope: what is kept of a task that failed for good, and why it was parked.

A dataclass stored as JSON in the dead-letter list (store.py). Arguments are kept within
DLQ_MAX_ARGS_BYTES and tracebacks within DLQ_MAX_TRACEBACK_CHARS, so one poisonous message
cannot fill Redis; a cut entry is marked `truncated` and cannot be replayed.
"""

import dataclasses
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from django.conf import settings

TRUNCATED = "__truncated__"


class Reason(StrEnum):
    """Why an entry was parked: the `reason` of the envelope, one place for its spellings."""

    RETRIES_EXHAUSTED = "retries_exhausted"  # a transient error outlasted the step's retries
    UNEXPECTED_ERROR = "unexpected_error"  # anything nobody planned for: a bug, fixed then replayed
    WORKER_LOST = "worker_lost"  # every delivery killed its worker (DLQ_MAX_DELIVERIES)
    UNKNOWN_MESSAGE = "unknown_message"  # the worker's consumer hooks: not a task message
    UNKNOWN_TASK = "unknown_task"
    INVALID_TASK = "invalid_task"
    UNDECODABLE = "undecodable"  # the body could not be decoded: it cannot be replayed


@dataclass
class Envelope:
    """One dead letter. `malformed` entries are whatever someone pushed that is not an envelope:
    they keep their raw text so staff can see and discard them."""

    task: str
    task_id: str = ""
    queue: str = ""
    args: Any = field(default_factory=list)
    kwargs: Any = field(default_factory=dict)
    chain: list[dict] | None = None
    order_id: str = ""
    correlation_id: str = ""
    exc_type: str = ""
    exc_message: str = ""
    traceback: str = ""
    attempts: int = 1
    first_failed_at: str = ""
    last_failed_at: str = ""
    hostname: str = ""
    reason: str = Reason.UNEXPECTED_ERROR
    truncated: bool = False
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    malformed: bool = False
    raw: str = ""

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data.pop("malformed")
        data.pop("raw")
        return json.dumps(data, sort_keys=True, default=str)

    @classmethod
    def from_raw(cls, raw: str) -> "Envelope":
        """Parse one list item; anything that is not an envelope becomes a malformed entry."""
        try:
            data = json.loads(raw)
            names = {f.name for f in dataclasses.fields(cls)} - {"malformed", "raw"}
            if (
                not isinstance(data, dict)
                or not isinstance(data.get("task"), str)
                or not data.get("id")
            ):
                raise ValueError("not an envelope")
            return cls(**{k: v for k, v in data.items() if k in names}, raw=raw)
        except (ValueError, TypeError):
            digest = hashlib.sha256(raw.encode()).hexdigest()[:24]
            return cls(task="(malformed)", id=f"malformed-{digest}", malformed=True, raw=raw)

    @property
    def pretty(self) -> str:
        if self.malformed:
            return self.raw
        return json.dumps(json.loads(self.to_json()), indent=2, sort_keys=True)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def bounded(value: Any) -> tuple[Any, bool]:
    """`value` as-is if its JSON fits DLQ_MAX_ARGS_BYTES, else a marker with a preview."""
    text = json.dumps(value, default=str)
    if len(text.encode()) <= settings.DLQ_MAX_ARGS_BYTES:
        return json.loads(text), False
    preview = text.encode()[: settings.DLQ_MAX_ARGS_BYTES].decode(errors="ignore")
    return {TRUNCATED: True, "original_bytes": len(text.encode()), "preview": preview}, True


def trim_traceback(text: str) -> str:
    """Keep the tail: the frame that raised is the one staff need."""
    limit = settings.DLQ_MAX_TRACEBACK_CHARS
    return text if len(text) <= limit else "...(trimmed)...\n" + text[-limit:]


def new_envelope(
    *,
    task: str,
    task_id: str,
    queue: str,
    args: Any,
    kwargs: Any,
    exc_type: str,
    exc_message: str,
    traceback: str,
    reason: Reason,
    hostname: str,
    correlation_id: str,
    order_id: str | None = None,
    chain: list[dict] | None = None,
    attempts: int = 1,
    first_failed_at: str = "",
) -> Envelope:
    """The one envelope builder (a failed step and an unrunnable message alike): arguments kept
    within DLQ_MAX_ARGS_BYTES (a cut entry is marked `truncated` and cannot be replayed), the
    message and traceback trimmed, the failure stamped now. `order_id` defaults to the first
    argument when it is a string."""
    args, cut_args = bounded(args)
    kwargs, cut_kwargs = bounded(kwargs)
    if order_id is None:
        order_id = (
            str(args[0]) if isinstance(args, list) and args and isinstance(args[0], str) else ""
        )
    failed_at = now_iso()
    return Envelope(
        task=task,
        task_id=task_id,
        queue=queue,
        args=args,
        kwargs=kwargs,
        chain=chain,
        order_id=order_id,
        correlation_id=correlation_id,
        exc_type=exc_type,
        exc_message=exc_message[:2000],
        traceback=trim_traceback(traceback),
        attempts=attempts,
        first_failed_at=first_failed_at or failed_at,
        last_failed_at=failed_at,
        hostname=hostname,
        reason=reason,
        truncated=cut_args or cut_kwargs,
    )
