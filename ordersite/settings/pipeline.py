"""The order pipeline's settings, by area: retries and the reconciler, gateways, breakers, the
dead-letter queue, live updates, customer mail, the test doubles, and beat's schedule. Read
through framework.py's `env`, like every other variable."""

from .framework import BASE_DIR, DEBUG, INSTALLED_APPS, env

# --- The pipeline: retries, reconciler ------------------------------------------------------------
PIPELINE_MAX_RETRIES = env.int("PIPELINE_MAX_RETRIES", default=5)
PIPELINE_RETRY_BACKOFF = env.int("PIPELINE_RETRY_BACKOFF", default=1)
PIPELINE_RETRY_BACKOFF_MAX = env.int("PIPELINE_RETRY_BACKOFF_MAX", default=600)
PIPELINE_RETRY_JITTER = env.bool("PIPELINE_RETRY_JITTER", default=True)
# Waiting on an open breaker spends no retry; this bounds those waits per step (from its first).
PIPELINE_BREAKER_WAIT_MAX_SECONDS = env.int("PIPELINE_BREAKER_WAIT_MAX_SECONDS", default=1800)
# A step that cannot reach PostgreSQL (refused, restarting) tries again after this many seconds,
# without spending a retry: the wait is bounded by PIPELINE_BREAKER_WAIT_MAX_SECONDS instead.
PIPELINE_DATABASE_WAIT_SECONDS = env.float("PIPELINE_DATABASE_WAIT_SECONDS", default=2.0)
# An order whose chain the broker could not take at commit is sent again by its web process this
# often until the broker answers (orders/pipeline_start.py).
PIPELINE_START_RETRY_SECONDS = env.float("PIPELINE_START_RETRY_SECONDS", default=2.0)

# Retries of the steps that differ from PIPELINE_MAX_RETRIES, read by the retry policy declared
# with each task (orders/pipeline.py, the tasks.py files). Shipping gives up on the
# primary carrier sooner (a fallback exists); compensations, the capture and refunds must
# eventually happen, so they keep trying longer (refunds then wait in the DLQ for staff).
PIPELINE_SHIP_MAX_RETRIES = env.int("PIPELINE_SHIP_MAX_RETRIES", default=3)
PIPELINE_COMPENSATION_MAX_RETRIES = env.int("PIPELINE_COMPENSATION_MAX_RETRIES", default=10)
PIPELINE_REFUND_MAX_RETRIES = env.int("PIPELINE_REFUND_MAX_RETRIES", default=10)

# The reconciler (orders/recovery.py): an order whose step has not moved for this long is sent
# again, checked this often.
PIPELINE_STUCK_AFTER_SECONDS = env.int("PIPELINE_STUCK_AFTER_SECONDS", default=300)
PIPELINE_RECONCILE_EVERY_SECONDS = env.int("PIPELINE_RECONCILE_EVERY_SECONDS", default=60)

# --- Gateways: payment provider and carriers ------------------------------------------------------
PAYMENT_GATEWAY_CLASS = env.str(
    "PAYMENT_GATEWAY_CLASS", default="payments.gateways.HttpPaymentGateway"
)
CARRIER_CLASSES = {
    "primary": env.str("CARRIER_PRIMARY_CLASS", default="shipping.gateways.HttpCarrier"),
    "fallback": env.str("CARRIER_FALLBACK_CLASS", default="shipping.gateways.HttpCarrier"),
}
PAYMENT_GATEWAY_URL = env.str("PAYMENT_GATEWAY_URL", default="http://127.0.0.1:8071")
CARRIER_URLS = {
    "primary": env.str("CARRIER_PRIMARY_URL", default="http://127.0.0.1:8072"),
    "fallback": env.str("CARRIER_FALLBACK_URL", default="http://127.0.0.1:8073"),
}
GATEWAY_CONNECT_TIMEOUT = env.float("GATEWAY_CONNECT_TIMEOUT", default=2.0)
GATEWAY_READ_TIMEOUT = env.float("GATEWAY_READ_TIMEOUT", default=10.0)

# A shipment the carrier held back (pending) is asked for again this often.
CARRIER_PENDING_RETRY_SECONDS = env.int("CARRIER_PENDING_RETRY_SECONDS", default=300)

# Carriers push deliveries to POST /api/v1/carriers/<carrier>/events/ with this in the
# X-Carrier-Secret header. Empty: the webhook refuses every call (the poll still works).
CARRIER_WEBHOOK_SECRET = env.str(
    "CARRIER_WEBHOOK_SECRET", default="dev-only-carrier-secret" if DEBUG else ""
)
# The poll that catches what no webhook told us: parcels not yet delivered, asked of their
# carrier this often, at most this many per run (oldest first).
CARRIER_DELIVERY_POLL_SECONDS = env.int("CARRIER_DELIVERY_POLL_SECONDS", default=600)
CARRIER_DELIVERY_POLL_BATCH = env.int("CARRIER_DELIVERY_POLL_BATCH", default=200)

# Returns: a customer may ask for a return this many days after delivery; later, a 409
# return_window_closed.
RETURN_WINDOW_DAYS = env.int("RETURN_WINDOW_DAYS", default=30)

# --- Circuit breakers (ordersite/breakers.py) -----------------------------------------------------
BREAKER_ERROR_RATE = env.int("BREAKER_ERROR_RATE", default=50)
BREAKER_MIN_CALLS = env.int("BREAKER_MIN_CALLS", default=10)
BREAKER_WINDOW_CALLS = env.int("BREAKER_WINDOW_CALLS", default=100)
BREAKER_WINDOW_SECONDS = env.float("BREAKER_WINDOW_SECONDS", default=60.0)
BREAKER_CONSECUTIVE_FAILURES = env.int("BREAKER_CONSECUTIVE_FAILURES", default=5)
BREAKER_OPEN_SECONDS = env.float("BREAKER_OPEN_SECONDS", default=30.0)
BREAKER_HALF_OPEN_CALLS = env.int("BREAKER_HALF_OPEN_CALLS", default=5)
BREAKER_CLOSE_AFTER = env.int("BREAKER_CLOSE_AFTER", default=3)

# --- Dead-letter queue (deadletters/) -------------------------------------------------------------
DLQ_KEY = env.str("DLQ_KEY", default="ordersite:dlq")
# The worker copies messages it cannot run (unknown task, undecodable body) to the DLQ.
CELERY_WORKER_CONSUMER = "deadletters.capture:DeadLetteringConsumer"
# Past this length pushes still land (nothing is trimmed) but each one logs an error and counts.
DLQ_MAX_LENGTH = env.int("DLQ_MAX_LENGTH", default=10000)
# A message whose every run killed its worker is dead-lettered after this many deliveries.
DLQ_MAX_DELIVERIES = env.int("DLQ_MAX_DELIVERIES", default=3)
DLQ_MAX_ARGS_BYTES = env.int("DLQ_MAX_ARGS_BYTES", default=65536)
DLQ_MAX_TRACEBACK_CHARS = env.int("DLQ_MAX_TRACEBACK_CHARS", default=8000)
# A replay still parked in the processing list after this many seconds crashed midway.
DLQ_REPLAY_TIMEOUT = env.int("DLQ_REPLAY_TIMEOUT", default=300)
DLQ_PAGE_SIZE = env.int("DLQ_PAGE_SIZE", default=50)

# --- Live updates (orders/live/) ------------------------------------------------------------------
# Every order event goes to this Redis stream (in REDIS_URL) after its commit; the ASGI server
# (`live` in the Procfile) reads it and pushes to WebSocket and SSE clients.
LIVE_STREAM_KEY = env.str("LIVE_STREAM_KEY", default="ordersite:live")
# Trimmed (approximately) to this many entries; a client further behind reads the timeline table.
LIVE_STREAM_MAXLEN = env.int("LIVE_STREAM_MAXLEN", default=100000)
# Where clients reach the ASGI server: gunicorn names it when asked for a stream or /ws.
LIVE_PUBLIC_URL = env.str("LIVE_PUBLIC_URL", default="http://127.0.0.1:8001")
LIVE_HEARTBEAT_SECONDS = env.float("LIVE_HEARTBEAT_SECONDS", default=15.0)
# Events waiting for one slow client before it is disconnected (it resumes from its last id).
LIVE_CLIENT_BUFFER = env.int("LIVE_CLIENT_BUFFER", default=1000)
# Catching up past the stream's retention: the timeline from this long before the client's last
# stream id (a transaction's events are written before they commit and are published).
LIVE_CATCHUP_MARGIN_SECONDS = env.float("LIVE_CATCHUP_MARGIN_SECONDS", default=60.0)

# --- Customer notifications (notifications/) ------------------------------------------------------
# Mails on confirmation, shipment, failure and cancellation (notifications/), sent by the
# `notifications` queue's worker through Django's email framework. The default backend prints one
# line per mail (ordersite/mail.py), "django.core.mail.backends.console.EmailBackend" whole mails;
# SMTP needs "django.core.mail.backends.smtp.EmailBackend" and the EMAIL_HOST... below.
NOTIFICATIONS_ENABLED = env.bool("NOTIFICATIONS_ENABLED", default=True)
NOTIFICATION_MAX_RETRIES = env.int("NOTIFICATION_MAX_RETRIES", default=5)
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="ordersite.mail.ConsoleSummaryBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
# Seconds an SMTP connection may block; past it the try fails (and is retried).
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
# Where "django.core.mail.backends.filebased.EmailBackend" writes (one file per connection).
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="orders@example.com")

# --- Test doubles (sandboxes/) --------------------------------------------------------------------
# Payment and carrier sandboxes, fault injection at /admin/faults/, the demo data: installed
# only when asked, on by default only with DEBUG (make run, the tests).
SANDBOXES_ENABLED = env.bool("SANDBOXES_ENABLED", default=DEBUG)
if SANDBOXES_ENABLED:
    INSTALLED_APPS.append("sandboxes")
# The sandbox process binds the ports of the gateway URLs (above) on this address.
SANDBOX_HOST = env.str("SANDBOX_HOST", default="127.0.0.1")
SANDBOX_HANG_SECONDS = env.float("SANDBOX_HANG_SECONDS", default=15.0)
# The sandboxes' ledgers and fault settings; empty: REDIS_URL. Another Redis plays the outside
# world, whose state survives a restart of ours.
SANDBOX_REDIS_URL = env.str("SANDBOX_REDIS_URL", default="")

# --- Celery beat: one scheduler, every periodic task ----------------------------------------------
# django-celery-beat's DatabaseScheduler behind a Redis lock (ordersite/beat.py): of several beats
# only the holder dispatches; a standby takes over within BEAT_LOCK_SECONDS of its death.
CELERY_BEAT_SCHEDULER = "ordersite.beat:LockedDatabaseScheduler"
BEAT_LOCK_SECONDS = env.float("BEAT_LOCK_SECONDS", default=30.0)
# Beat answers `celery inspect ping -d celerybeat@<host>` while its scheduler ticks (and stops
# answering when it has not ticked for a minute): docker-compose.yml's healthcheck for beat.
CELERY_BEAT_ENABLE_REMOTE_CONTROL = True

# Every periodic task, in one place; the DatabaseScheduler syncs this dict into its table (the
# admin can then edit it). Idempotency keys: hourly, kept IDEMPOTENCY_KEY_TTL_HOURS. The
# reconciler and the lost-mail sweep: every PIPELINE_RECONCILE_EVERY_SECONDS. Shipments the
# carriers held back: every CARRIER_PENDING_RETRY_SECONDS. The delivery poll that catches what no
# webhook told us: every CARRIER_DELIVERY_POLL_SECONDS.
CELERY_BEAT_SCHEDULE = {
    "orders.purge_idempotency_keys": {
        "task": "orders.purge_idempotency_keys",
        "schedule": 3600.0,
    },
    "resend-stuck-orders": {
        "task": "orders.resend_stuck_orders",
        "schedule": PIPELINE_RECONCILE_EVERY_SECONDS,
    },
    "retry-pending-shipments": {
        "task": "shipping.retry_pending_shipments",
        "schedule": CARRIER_PENDING_RETRY_SECONDS,
    },
    "poll-deliveries": {
        "task": "shipping.poll_deliveries",
        "schedule": CARRIER_DELIVERY_POLL_SECONDS,
    },
    # A mail whose task the broker could not take at commit is sent again by this sweep.
    "resend-lost-notifications": {
        "task": "notifications.resend_lost_notifications",
        "schedule": PIPELINE_RECONCILE_EVERY_SECONDS,
    },
}
