"""The sandboxes' HTTP APIs: a card processor (authorize, capture, void, refund) and a carrier
(create and cancel shipments). Their ledgers live in Redis, so a test or a person can check
that a repeated request never charged or shipped twice."""

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ordersite.redis import sandbox_client as sandbox_redis

# Test card tokens, as card processors' test cards: the token alone decides the outcome.
DECLINES = {
    "tok_declined": ("card_declined", "The card was declined."),
    "tok_insufficient_funds": ("insufficient_funds", "The card has insufficient funds."),
}
FLAKY_TOKEN = "tok_processing_error"  # noqa: S105  (503 twice for a key, then approved)
FLAKY_FAILURES = 2
HANGING_TOKEN = "tok_timeout"  # noqa: S105  (approved, but the first answer comes too late)
# Authorized and captured like any card, but its issuer refuses refunds (402 refund_refused)
# until POST /v1/authorizations/<id>/allow-refunds (the issuer lifted its block: a test or a
# person says so). A refusal is not kept for its key: asking again asks the issuer again.
REFUND_REFUSED_TOKEN = "tok_refund_refused"  # noqa: S105
APPROVED_TOKENS = frozenset(
    {"tok_visa", "tok_mastercard", FLAKY_TOKEN, HANGING_TOKEN, REFUND_REFUSED_TOKEN}
)


@dataclass
class Reply:
    status: int
    body: dict = field(default_factory=dict)
    hang: bool = False  # answer only after SANDBOX_HANG_SECONDS (the client times out first)


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


def _digest(*parts: str) -> str:
    return hashlib.sha256(":".join(parts).encode()).hexdigest()


class PaymentSandbox:
    """Idempotency as card processors do it: the first answer to a key is stored and replayed;
    the same key with another body is a 422; two requests racing on one key get a 409."""

    name = "payments"
    prefix = "sandbox:payments"
    OP = re.compile(
        r"^/v1/authorizations/(?P<id>[\w-]+)/(?P<op>capture|void|refunds|allow-refunds)$"
    )

    def __init__(self) -> None:
        self.redis = sandbox_redis()

    def get(self, path: str) -> Reply:
        if path == "/v1/authorizations":
            # The whole ledger in two round trips, however long it is (an audit reads it all).
            ids = sorted(self.redis.smembers(f"{self.prefix}:auths"))
            pipe = self.redis.pipeline(transaction=False)
            for auth_id in ids:
                pipe.hgetall(f"{self.prefix}:auth:{auth_id}")
            return Reply(200, {"data": [self._parse(row) for row in pipe.execute() if row]})
        match = re.match(r"^/v1/authorizations/([\w-]+)$", path)
        auth = self._auth(match.group(1)) if match else None
        return Reply(200, auth) if auth else _error(404, "not_found", "No such authorization.")

    def post(self, path: str, key: str, body: dict) -> Reply:
        if not key:
            return _error(400, "idempotency_key_required", "Send an Idempotency-Key header.")
        fingerprint = _digest(path, json.dumps(body, sort_keys=True))
        idem = f"{self.prefix}:idem:{key}"
        stored = self.redis.get(idem)
        flaky = stored is None and body.get("token") == FLAKY_TOKEN
        if flaky and self.redis.incr(f"{self.prefix}:attempts:{key}") <= FLAKY_FAILURES:
            return _error(503, "processing_error", "A processing error occurred; try again.")
        if stored is None:
            if not self.redis.set(f"{idem}:lock", "1", nx=True, ex=30):
                return _error(
                    409, "idempotency_in_progress", "A request with this key is in progress."
                )
            try:
                reply = self._apply(path, key, body)
                stored = json.dumps(
                    {"fingerprint": fingerprint, "status": reply.status, "body": reply.body}
                )
                if reply.status == 402 and reply.body["error"]["code"] == "refund_refused":
                    return reply  # it paid nothing: the same key may ask again
                self.redis.set(idem, stored)
            finally:
                self.redis.delete(f"{idem}:lock")
        answer = json.loads(stored)
        if answer["fingerprint"] != fingerprint:
            return _error(422, "idempotency_key_reused", "This key was used with another request.")
        hang = (
            body.get("token") == HANGING_TOKEN
            and self.redis.incr(f"{self.prefix}:hangs:{key}") == 1
        )
        return Reply(answer["status"], answer["body"], hang=hang)

    def _auth(self, auth_id: str) -> dict | None:
        row = self.redis.hgetall(f"{self.prefix}:auth:{auth_id}")
        return self._parse(row) if row else None

    @staticmethod
    def _parse(row: dict) -> dict:
        return {k: int(v) if k.endswith("_cents") else v for k, v in row.items()}

    def _apply(self, path: str, key: str, body: dict) -> Reply:
        if path == "/v1/authorizations":
            return self._authorize(key, body)
        match = self.OP.match(path)
        if match is None:
            return _error(404, "not_found", "No such endpoint.")
        auth = self._auth(match["id"])
        if auth is None:
            return _error(404, "not_found", "No such authorization.")
        op, amount = match["op"], int(body.get("amount_cents", auth["amount_cents"]))
        if op == "refunds":
            return self._refund(auth, key, amount)
        if op == "allow-refunds":
            self.redis.hset(f"{self.prefix}:auth:{auth['id']}", "refunds_allowed", "1")
            return Reply(200, self._auth(auth["id"]) or {})
        if auth["status"] != "authorized" or amount > auth["amount_cents"]:
            return _error(
                422, "invalid_state", f"Cannot {op} an authorization that is {auth['status']}."
            )
        changes = {
            "capture": {"status": "captured", "captured_cents": amount},
            "void": {"status": "voided", "voided_cents": auth["amount_cents"]},
        }[op]
        self.redis.hset(f"{self.prefix}:auth:{auth['id']}", mapping=changes)
        return Reply(200, self._auth(auth["id"]) or {})

    def _refund(self, auth: dict, key: str, amount: int) -> Reply:
        """POST /v1/authorizations/<id>/refunds: give back part or all of what is captured, as
        many times as there is money left; 201 with the refund and the authorization after it."""
        if auth["status"] not in ("captured", "partially_refunded"):
            return _error(
                422, "invalid_state", f"Cannot refund an authorization that is {auth['status']}."
            )
        if not 0 < amount <= auth["captured_cents"]:
            return _error(
                422, "invalid_amount", f"Refunds go from 1 to {auth['captured_cents']} cents."
            )
        if auth.get("token") == REFUND_REFUSED_TOKEN and not auth.get("refunds_allowed"):
            return _error(402, "refund_refused", "The card issuer refused the refund.")
        kept = auth["captured_cents"] - amount
        changes = {
            "status": "partially_refunded" if kept else "refunded",
            "captured_cents": kept,
            "refunded_cents": auth["refunded_cents"] + amount,
        }
        self.redis.hset(f"{self.prefix}:auth:{auth['id']}", mapping=changes)
        refund = {
            "id": f"re_{_digest(key)[:20]}",
            "authorization": auth["id"],
            "amount_cents": amount,
        }
        self.redis.rpush(f"{self.prefix}:refunds:{auth['id']}", json.dumps(refund))
        return Reply(
            201, {**refund, "status": "succeeded", "authorization_after": self._auth(auth["id"])}
        )

    def _authorize(self, key: str, body: dict) -> Reply:
        token = str(body.get("token", ""))
        if token in DECLINES:
            return _error(402, *DECLINES[token])
        if token not in APPROVED_TOKENS:
            return _error(402, "invalid_token", "Unknown card token.")
        auth_id = f"auth_{_digest(key)[:20]}"
        row = {
            "id": auth_id,
            "status": "authorized",
            "amount_cents": int(body["amount_cents"]),
            "currency": str(body.get("currency", "USD")),
            "captured_cents": 0,
            "voided_cents": 0,
            "refunded_cents": 0,
            # As processors keep the merchant's reference: an audit can tell whose charge it is.
            "idempotency_key": key,
            "token": token,
        }
        self.redis.hset(f"{self.prefix}:auth:{auth_id}", mapping=row)
        self.redis.sadd(f"{self.prefix}:auths", auth_id)
        return Reply(201, row)


class CarrierSandbox:
    """A carrier: one shipment per order, whatever the key, so a retried booking ships once.
    Every key that booked (or found) an order's shipment names it, so a client whose answer was
    lost can cancel it by that key (POST /v1/shipments/cancel-by-key); a key cancelled before any
    booking arrived refuses the booking that arrives later (422 booking_cancelled)."""

    CANCEL = re.compile(r"^/v1/shipments/(?P<tracking>\w+)/cancel$")
    DELIVER = re.compile(r"^/v1/shipments/(?P<tracking>\w+)/deliver$")
    ONE = re.compile(r"^/v1/shipments/(?P<tracking>\w+)$")
    CANCEL_BY_KEY = "/v1/shipments/cancel-by-key"

    def __init__(self, name: str) -> None:
        self.name, self.prefix = name, f"sandbox:{name}"
        self.redis = sandbox_redis()

    def get(self, path: str) -> Reply:
        one = self.ONE.match(path)
        if one:
            order_id = self.redis.get(f"{self.prefix}:tracking:{one['tracking']}")
            shipment = self.redis.get(f"{self.prefix}:shipment:{order_id}") if order_id else None
            return (
                Reply(200, json.loads(shipment))
                if shipment
                else _error(404, "not_found", "No such shipment.")
            )
        if path != "/v1/shipments":
            return _error(404, "not_found", "No such endpoint.")
        orders = sorted(self.redis.smembers(f"{self.prefix}:orders"))
        rows = self.redis.mget([f"{self.prefix}:shipment:{o}" for o in orders]) if orders else []
        return Reply(200, {"data": [json.loads(row) for row in rows if row]})

    def post(self, path: str, key: str, body: dict) -> Reply:
        if path == "/v1/shipments":
            return self._create(key, body)
        if path == self.CANCEL_BY_KEY:
            return self._cancel_by_key(str(body.get("idempotency_key", "")))
        match = self.CANCEL.match(path) or self.DELIVER.match(path)
        order_id = self.redis.get(f"{self.prefix}:tracking:{match['tracking']}") if match else None
        if order_id is None:
            return _error(404, "not_found", "No such shipment.")
        if match.re is self.DELIVER:
            return self._deliver(order_id, str(body.get("delivered_at") or ""))
        return self._cancel(order_id)

    def _deliver(self, order_id: str, delivered_at: str) -> Reply:
        """The courier handed the parcel over (a test or a person says so, as a scan would):
        its status turns `delivered`, with the time, once; a cancelled parcel never arrives."""
        shipment = json.loads(self.redis.get(f"{self.prefix}:shipment:{order_id}") or "{}")
        if shipment.get("status") == "cancelled":
            return _error(422, "invalid_state", "A cancelled shipment is not delivered.")
        if shipment.get("status") != "delivered":
            when = delivered_at or datetime.now(UTC).isoformat()
            shipment.update(status="delivered", delivered_at=when)
            self.redis.set(f"{self.prefix}:shipment:{order_id}", json.dumps(shipment))
        return Reply(200, shipment)

    def _cancel(self, order_id: str) -> Reply:
        shipment = json.loads(self.redis.get(f"{self.prefix}:shipment:{order_id}") or "{}")
        shipment["status"] = "cancelled"
        self.redis.set(f"{self.prefix}:shipment:{order_id}", json.dumps(shipment))
        return Reply(200, shipment)

    def _cancel_by_key(self, booking_key: str) -> Reply:
        if not booking_key:
            return _error(400, "invalid", "idempotency_key is required.")
        self.redis.set(f"{self.prefix}:cancelled-key:{booking_key}", "1")  # refuse a late booking
        order_id = self.redis.get(f"{self.prefix}:key:{booking_key}")
        if order_id is None:
            return _error(404, "not_found", "No shipment was booked with this key.")
        return self._cancel(order_id)

    def _create(self, key: str, body: dict) -> Reply:
        order_id = str(body.get("order_id", ""))
        if not order_id:
            return _error(400, "invalid", "order_id is required.")
        if key and self.redis.exists(f"{self.prefix}:cancelled-key:{key}"):
            return _error(422, "booking_cancelled", "A booking with this key was cancelled.")
        if key:
            self.redis.set(f"{self.prefix}:key:{key}", order_id)
        digest = _digest(self.name, order_id)
        shipment = {
            "order_id": order_id,
            "carrier": self.name,
            "tracking_number": f"TRK{digest[:12].upper()}",
            "label_reference": f"label_{digest[12:28]}",
            "status": "created",
        }
        if not self.redis.set(f"{self.prefix}:shipment:{order_id}", json.dumps(shipment), nx=True):
            return Reply(
                200, json.loads(self.redis.get(f"{self.prefix}:shipment:{order_id}") or "{}")
            )
        self.redis.set(f"{self.prefix}:tracking:{shipment['tracking_number']}", order_id)
        self.redis.sadd(f"{self.prefix}:orders", order_id)
        return Reply(201, shipment)
