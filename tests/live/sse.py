"""A small Server-Sent Events client over httpx, for the tests and the bench's checks."""

import contextlib
import json
import time
from typing import Any

import httpx


class EventStream:
    """GET a stream and read its messages: (id or None, data parsed) for events; heartbeats
    (comment lines) are counted and skipped."""

    def __init__(
        self, url: str, *, headers: dict[str, str] | None = None, read_timeout: float = 10
    ) -> None:
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=read_timeout))
        self._stack = contextlib.ExitStack()
        self.response = self._stack.enter_context(
            self._client.stream("GET", url, headers=headers or {})
        )
        self._lines = self.response.iter_lines()
        self.heartbeats = 0
        self.retry: int | None = None

    def next_event(self, timeout: float = 15) -> tuple[str | None, dict[str, Any]]:
        """The next event; heartbeats (a second apart in tests) bound the wait to `timeout`."""
        deadline = time.monotonic() + timeout
        event_id, data = None, []
        for line in self._lines:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no event within {timeout}s")
            if line == "":
                if data:
                    return event_id, json.loads("\n".join(data))
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                self.heartbeats += 1
            elif name == "id":
                event_id = value
            elif name == "data":
                data.append(value)
            elif name == "retry":
                self.retry = int(value)
        raise EOFError("the stream ended")

    def events(self, count: int) -> list[tuple[str | None, dict[str, Any]]]:
        return [self.next_event() for _ in range(count)]

    def close(self) -> None:
        self._stack.close()
        self._client.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
