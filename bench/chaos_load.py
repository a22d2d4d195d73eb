"""The clients of a chaos run, all over the HTTP API: customers placing orders at a steady rate
(and cancelling some), and staff working the dead-letter queue.

A customer behaves as a careful integration does: every POST carries an Idempotency-Key, and a
POST that got no answer, a 5xx or a 409 is sent again with the same key (bounded), so a fault in
the middle of a request never makes the customer lose or double an order.
"""

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

RETRY_FOR_S = 20.0  # a customer gives up on one order after this long


@dataclass
class Placed:
    key: str
    body: dict
    order_id: str | None = None  # from the first 201
    answers: list[int] = field(default_factory=list)  # HTTP statuses, 0 for no answer
    replayed: bool = False  # a 201 said Idempotent-Replayed: an earlier attempt had placed it
    other_ids: set[str] = field(default_factory=set)  # a second order for the same key (a bug)


@dataclass
class Tally:
    """What the clients saw, thread-safe."""

    placed: list[Placed] = field(default_factory=list)
    answers: Counter = field(default_factory=Counter)
    cancels: Counter = field(default_factory=Counter)
    readiness: Counter = field(default_factory=Counter)
    staff: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, counter: Counter, status: int | str) -> None:
        with self.lock:
            counter[status] += 1


class Customers:
    """Places orders over HTTP at `rate` per second (a function of the seconds elapsed)."""

    def __init__(
        self, base_url: str, token: str, catalog: dict[str, int], *, seed: int, hot: str | None
    ) -> None:
        self.base_url, self.catalog, self.hot = base_url, catalog, hot
        self.rng = random.Random(seed)
        self.client = httpx.Client(
            headers={"Authorization": f"Token {token}"},
            timeout=httpx.Timeout(10, connect=2),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        self.tally = Tally()
        self.pool = ThreadPoolExecutor(max_workers=24, thread_name_prefix="customer")

    def body(self, token: str) -> dict:
        skus = [sku for sku in self.catalog if sku != self.hot]
        lines = self.rng.sample(skus, self.rng.randint(1, 3))
        if self.hot and self.rng.random() < 0.3:
            lines[0] = self.hot  # a share of the orders race for one row
        first = lines[
            0
        ]  # quoted with its price, as the seed clients do; the rest priced by the server
        items = [
            {
                "product_id": first,
                "quantity": self.rng.randint(1, 3),
                "unit_price_cents": self.catalog[first],
            }
        ]
        items += [{"product_id": sku, "quantity": self.rng.randint(1, 3)} for sku in lines[1:]]
        return {"items": items, "payment_token": token, "shipping_address": {"city": "Chaosville"}}

    def post(self, placed: Placed) -> None:
        """POST until a definite answer (bounded), with the same key every time."""
        deadline = time.monotonic() + RETRY_FOR_S
        delay = 0.2
        while True:
            try:
                response = self.client.post(
                    f"{self.base_url}/api/v1/orders/",
                    json=placed.body,
                    headers={"Idempotency-Key": placed.key},
                )
                status = response.status_code
            except httpx.HTTPError:
                response, status = None, 0
            self.tally.count(self.tally.answers, status)
            with self.tally.lock:
                placed.answers.append(status)
                if status == 201:
                    placed.replayed |= response.headers.get("Idempotent-Replayed") == "true"
                    order_id = response.json()["order_id"]
                    if placed.order_id is None:
                        placed.order_id = order_id
                    elif order_id != placed.order_id:
                        placed.other_ids.add(order_id)
            if (
                status == 201
                or (400 <= status < 500 and status != 409)
                or time.monotonic() > deadline
            ):
                return
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def place(self, token: str, *, copies: int = 1) -> Placed:
        """Send one order; `copies` > 1 sends the same request that many times at once."""
        placed = Placed(key=uuid.uuid4().hex, body=self.body(token))
        with self.tally.lock:
            self.tally.placed.append(placed)
        for _ in range(copies):
            self.pool.submit(self.post, placed)
        return placed

    def run(
        self,
        *,
        seconds: float,
        max_orders: int,
        rate: Callable[[float], float],
        token: Callable[[], str],
        copies: int = 1,
        on_placed: Callable[[Placed], None] | None = None,
    ) -> None:
        """Dispatch orders on schedule for `seconds` (or `max_orders`), then wait for answers."""
        started, due, sent = time.monotonic(), 0.0, 0
        while sent < max_orders:
            now = time.monotonic() - started
            if now >= seconds:
                break
            if now < due:
                time.sleep(min(due - now, 0.05))
                continue
            placed = self.place(token(), copies=copies)
            sent += 1
            if on_placed is not None:
                on_placed(placed)
            due += 1.0 / max(rate(due), 0.1)
        self.pool.shutdown(wait=True)

    def cancel(self, order_id: str) -> None:
        """Cancel, as a customer would: again after a lost race (409 conflict), at most 3 times."""
        for _ in range(3):
            try:
                response = self.client.post(f"{self.base_url}/api/v1/orders/{order_id}/cancel/")
            except httpx.HTTPError:
                self.tally.count(self.tally.cancels, "no answer")
                continue
            code = (
                response.json().get("error", {}).get("code", "")
                if response.status_code >= 400
                else "cancelled"
            )
            self.tally.count(self.tally.cancels, f"{response.status_code} {code}")
            if code != "conflict":
                return

    def probe_readiness(self) -> None:
        try:
            status = httpx.get(f"{self.base_url}/api/v1/health/ready", timeout=5).status_code
        except httpx.HTTPError:
            status = 0
        self.tally.count(self.tally.readiness, status)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()


class Staff:
    """Staff working the DLQ through /api/v1/dlq/, as two people at two screens would: each
    entry of our orders is replayed or discarded, and now and then both act on one at once."""

    def __init__(self, base_url: str, token: str, tally: Tally, *, seed: int) -> None:
        self.base_url, self.tally = base_url, tally
        self.rng = random.Random(seed)
        self.client = httpx.Client(headers={"Authorization": f"Token {token}"}, timeout=10)

    def entries(self, order_ids: set[str], *, older_than_s: float) -> list[dict]:
        """Entries of our orders that have waited `older_than_s` (people are not instant: by
        then the reconciler may have had a go at the same orders)."""
        try:
            page = self.client.get(f"{self.base_url}/api/v1/dlq/", params={"limit": 500}).json()
        except (httpx.HTTPError, ValueError):
            self.tally.count(self.tally.staff, "list failed")
            return []
        now = datetime.now(UTC)
        return [
            entry
            for entry in page.get("results", [])
            if entry.get("order_id") in order_ids
            and (now - datetime.fromisoformat(entry["last_failed_at"])).total_seconds()
            >= older_than_s
        ]

    def act(self, entry: dict, action: str) -> None:
        body = {"reason": "chaos run: staff gave this step up"} if action == "discard" else None
        try:
            status = self.client.post(
                f"{self.base_url}/api/v1/dlq/{entry['id']}/{action}/", json=body
            ).status_code
        except httpx.HTTPError:
            status = 0
        self.tally.count(self.tally.staff, f"{action} {status}")

    def work(
        self,
        order_ids: Callable[[], set[str]],
        until: Callable[[], bool],
        *,
        replay_share: float,
        after_s: float,
    ) -> None:
        while not until():
            for entry in self.entries(order_ids(), older_than_s=after_s):
                action = "replay" if self.rng.random() < replay_share else "discard"
                if self.rng.random() < 0.2:  # a colleague clicks the same entry at the same moment
                    other = threading.Thread(
                        target=self.act, args=(entry, self.rng.choice(["replay", "discard"]))
                    )
                    other.start()
                    self.act(entry, action)
                    other.join()
                else:
                    self.act(entry, action)
            time.sleep(0.5)

    def close(self) -> None:
        self.client.close()
