"""The dead-letter queue's errors, each with its code in the one error body."""

from rest_framework import status

from ordersite.errors import DomainError


class DeadLetterNotFoundError(DomainError):
    code = "dead_letter_not_found"
    http_status = status.HTTP_404_NOT_FOUND


class DeadLetterNotReplayableError(DomainError):
    code = "dead_letter_not_replayable"
    http_status = status.HTTP_409_CONFLICT


class DeadLetterStaleError(DomainError):
    """A replay of a dead letter whose order no longer waits at its step (it moved on, or ended):
    sending the step again could only do harm or nothing. Discard the entry instead. Raised by
    the reacting app's `ensure_current` hook (deadletters/hooks.py), which alone can judge."""

    code = "dead_letter_stale"
    http_status = status.HTTP_409_CONFLICT
