"""The framework's settings: Django, PostgreSQL, logs, Redis, Celery, the API. Every environment
variable of ordersite is read in this package, once, through this module's `env`.

Precedence, as the seeds ask: the real environment, then a `.env` file, then the defaults below,
which work on a developer machine with local PostgreSQL and Redis.
"""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

from .. import queues

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Django: security, apps, requests, templates, static files ------------------------------------
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str(
    "SECRET_KEY", default="dev-only-insecure-secret-key" if DEBUG else environ.Env.NOTSET
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# HTTPS, on unless DEBUG (`manage.py check --deploy` is clean then): plain HTTP redirected, cookies
# sent over TLS only, and HSTS. Behind a proxy that ends TLS, SECURE_PROXY_SSL_HEADER names the
# header it sets to "https" (X-Forwarded-Proto), and only then, or anyone could claim TLS. The
# health checks are never redirected: a load balancer probes them over plain HTTP. Plain HTTP
# without DEBUG (docker-compose.yml on one machine) turns the redirect and secure cookies off.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health(/|$)"]
_ssl_header = env.str("SECURE_PROXY_SSL_HEADER", default="")
SECURE_PROXY_SSL_HEADER = (
    (f"HTTP_{_ssl_header.upper().replace('-', '_')}", "https") if _ssl_header else None
)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)

INSTALLED_APPS = [
    "ordersite.admin_site.OrdersiteAdminConfig",  # django.contrib.admin with the DLQ count
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us: /api/docs/ works offline
    "django_celery_results",
    "django_celery_beat",
    "deadletters",
    "orders",
    "payments",
    "inventory",
    "shipping",
    "notifications",
    "ordersite",  # the plumbing's own commands (`manage.py breakers`) and admin templates
]

MIDDLEWARE = [
    "ordersite.logs.RequestLogContextMiddleware",  # first: every later line has the request id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ordersite.urls"
WSGI_APPLICATION = "ordersite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "ordersite" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=256 * 1024)

# The admin counts at most this many matching rows on a list page (the rest shows as more pages
# on demand), and trusts PostgreSQL's row estimate for an unfiltered table larger than this.
ADMIN_COUNT_CAP = env.int("ADMIN_COUNT_CAP", default=10000)

# --- PostgreSQL -----------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/ordersite"),
}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Server-side parameter binding lets psycopg prepare a statement it has run
# DATABASE_PREPARE_THRESHOLD times, so PostgreSQL parses and plans the pipeline's few dozen
# statement shapes once per connection. Django turns psycopg's preparing off unless OPTIONS
# names a threshold: binding alone prepares nothing.
DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = env.bool(
    "DATABASE_SERVER_SIDE_BINDING", default=False
)
if DATABASES["default"]["OPTIONS"]["server_side_binding"]:
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = env.int(
        "DATABASE_PREPARE_THRESHOLD", default=5
    )
# DATABASE_URL points at PgBouncer in transaction mode ("pgbouncer"): each transaction may run on
# another server connection, so nothing may outlive a statement's transaction. Server-side cursors
# (.iterator()'s DECLARE) and prepared statements would; ordersite keeps no other session state
# (no SET, advisory lock or LISTEN: tests/test_conventions.py).
DATABASE_POOLER = env.str("DATABASE_POOLER", default="")
if DATABASE_POOLER not in ("", "pgbouncer"):
    raise ImproperlyConfigured(
        f"DATABASE_POOLER must be empty or 'pgbouncer', not {DATABASE_POOLER!r}"
    )
if DATABASE_POOLER:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Logs -----------------------------------------------------------------------------------------
# One format for web, workers, beat and gunicorn (ordersite/logs.py): JSON lines in production,
# aligned key=value lines for a person under `make run`; each with the order it concerns.
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"structured": {"()": "ordersite.logs.formatter", "log_format": LOG_FORMAT}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Celery's "Task … received" and "… succeeded" lines and our line per gateway call, on every
    # step of every order: WARNING by default (INFO brings them back; our own order lines stay at
    # INFO either way). httpx's own line says less than ours: WARNING always.
    "loggers": {
        **{
            name: {"level": env.str("LOG_TASK_LEVEL", default="WARNING")}
            for name in ("celery.app.trace", "celery.worker.strategy", "ordersite.gateways")
        },
        "httpx": {"level": "WARNING"},
    },
}

# --- Redis and the cache --------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Redis Sentinel (ordersite/redis.py): "host:port,host:port" of the Sentinels and the name of the
# master they watch. Set, every client of ordersite's Redis (REDIS_URL, CACHE_URL, a redis://
# broker) asks them for the master; the URLs then only give the database and password.
REDIS_SENTINELS = [s.strip() for s in env.list("REDIS_SENTINELS", default=[]) if s.strip()]
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", default="mymaster")
# Throttle counters live in Redis, so every gunicorn worker counts against the same budget.
CACHES = {
    "default": {
        # Django's RedisCache, with its clients from ordersite/redis.py (one pool, Sentinel).
        "BACKEND": "ordersite.redis.FactoryRedisCache",
        "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": "ordersite",
        "TIMEOUT": 3600,
    }
}

# --- Celery: broker, queues, results, events ------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# django-celery-results' table, through a backend whose database errors never escape into
# Celery's failure handling (ordersite/results.py).
CELERY_RESULT_BACKEND = "ordersite.results:ResilientDatabaseBackend"
CELERY_RESULT_EXTENDED = True
# Nobody reads a pipeline step's return value (state travels in PostgreSQL), so successes store
# no result row (a SELECT and an INSERT per task saved); failures still do, for staff to read.
CELERY_TASK_IGNORE_RESULT = env.bool("CELERY_TASK_IGNORE_RESULT", default=True)
CELERY_TASK_STORE_ERRORS_EVEN_IF_IGNORED = True
# Celery's Django fixup closes the database connection before and after every task unless
# this is set: a new PostgreSQL connection per task cost more CPU than the task itself.
# Connections are recycled after this many tasks (CONN_MAX_AGE does not reach workers).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
# A step is acknowledged only after it ran, and redelivered if its worker died: steps are
# idempotent, so a second delivery changes nothing.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
# The queues (ordersite/queues.py): quorum queues on RabbitMQ, with native delayed
# delivery for countdowns; Redis ignores the arguments. A message returned to its queue
# RABBITMQ_DELIVERY_LIMIT times (its worker died each time) is dropped by RabbitMQ: at least
# DLQ_MAX_DELIVERIES, so our own count parks it in the DLQ first (ordersite.E003). RabbitMQ closes
# the channel of a worker holding a message unacknowledged past RABBITMQ_CONSUMER_TIMEOUT seconds
# (declared per queue, honoured by RabbitMQ 3.12+; match the server's `consumer_timeout` on older
# servers, 1800 s by default), so it must cover a task's time limit (ordersite.E002).
# Every queue a worker consumes: the Queue enum (the Procfile names the same, checked by a test).
WORKER_QUEUES = tuple(queue.value for queue in queues.Queue)
RABBITMQ_DELIVERY_LIMIT = env.int("RABBITMQ_DELIVERY_LIMIT", default=20)
RABBITMQ_CONSUMER_TIMEOUT = env.int("RABBITMQ_CONSUMER_TIMEOUT", default=1800)
CELERY_TASK_QUEUES = queues.declare(
    WORKER_QUEUES,
    delivery_limit=RABBITMQ_DELIVERY_LIMIT,
    consumer_timeout_s=RABBITMQ_CONSUMER_TIMEOUT,
)
CELERY_TASK_DEFAULT_QUEUE = queues.Queue.ORDERS.value
# Each task's queue is declared with the task (orders/pipeline.py: step_task, beat_task); this
# router reads it from there.
CELERY_TASK_ROUTES = ("orders.pipeline.route_task",)
# On Redis, a message still unacknowledged after this many seconds is delivered again. It must
# exceed the longest retry countdown (PIPELINE_RETRY_BACKOFF_MAX), or a waiting retry runs twice.
# (RabbitMQ ignores it: countdowns wait in the broker there, see RABBITMQ_CONSUMER_TIMEOUT.)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # A broker that drops packets must not hold a POST (its on-commit send) or a worker forever.
    "socket_connect_timeout": 5,
    # RabbitMQ only (Redis ignores it): a send returns once the broker has the message (quorum
    # queues: replicated), so a chain sent at commit is never lost silently.
    "confirm_publish": True,
}
if REDIS_SENTINELS and CELERY_BROKER_URL.startswith("redis"):
    # kombu's Sentinel transport: one sentinel:// URL per Sentinel, the database and password of
    # the redis:// URL, and the master's name as a transport option.
    _broker = urlsplit(CELERY_BROKER_URL)
    _auth = f"{_broker.username or ''}:{_broker.password}@" if _broker.password else ""
    CELERY_BROKER_URL = ";".join(
        f"sentinel://{_auth}{s}{_broker.path or '/0'}" for s in REDIS_SENTINELS
    )
    CELERY_BROKER_TRANSPORT_OPTIONS["master_name"] = REDIS_SENTINEL_MASTER
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Task events (received, started, succeeded, sent: four Redis publishes per task, each parsed
# by Flower) cost CPU on every step of every order; off by default, on for Flower's task list.
# Worker events (heartbeats, online/offline) are sent either way, so Flower still sees workers.
CELERY_TASK_EVENTS = env.bool("CELERY_TASK_EVENTS", default=False)
CELERY_WORKER_SEND_TASK_EVENTS = CELERY_TASK_EVENTS
CELERY_TASK_SEND_SENT_EVENT = CELERY_TASK_EVENTS

# --- Celery workers: autoscaling; Flower ----------------------------------------------------------
# Workers started with --autoscale=max,min size their pool by tasks in hand plus the broker's
# backlog (ordersite/autoscale.py); "celery.worker.autoscale:Autoscaler" is Celery's own.
CELERY_WORKER_AUTOSCALER = env.str(
    "CELERY_WORKER_AUTOSCALER", default="ordersite.autoscale:BacklogAutoscaler"
)
AUTOSCALE_INTERVAL_SECONDS = env.float("AUTOSCALE_INTERVAL_SECONDS", default=0.5)
AUTOSCALE_COOLDOWN_SECONDS = env.float("AUTOSCALE_COOLDOWN_SECONDS", default=30.0)
# The host cap: at most this many pool slots (threads or processes) per CPU in one worker, and no
# new slot unless the memory available stays above the reserve (a slot's cost: measured, or this).
AUTOSCALE_PROCESSES_PER_CPU = env.float("AUTOSCALE_PROCESSES_PER_CPU", default=4.0)
AUTOSCALE_MEMORY_RESERVE_MB = env.float("AUTOSCALE_MEMORY_RESERVE_MB", default=512.0)
AUTOSCALE_SLOT_MEMORY_MB = env.float("AUTOSCALE_SLOT_MEMORY_MB", default=0.0)

# Flower (ordersite/flower_options.py): its login, `user:password` (several comma-separated);
# empty refuses to start unless DEBUG. Its API can run any task, so it listens on loopback unless
# told otherwise, and keeps its task history in FLOWER_DB across restarts.
FLOWER_BASIC_AUTH = env.str("FLOWER_BASIC_AUTH", default="")
FLOWER_ADDRESS = env.str("FLOWER_ADDRESS", default="127.0.0.1")
FLOWER_DB = Path(env.str("FLOWER_DB", default=str(BASE_DIR / "var" / "flower.db")))

# --- API: DRF, OpenAPI, limits, health, dashboard -------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "ordersite.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["ordersite.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "ordersite.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ordersite.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ordersite API",
    "DESCRIPTION": "Orders, catalog and pipeline state of an ordersite shop.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Orders, returns and refunds each have a `status` with its own choices: one name each.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.states.OrderStatus",
        "ReturnStatusEnum": "orders.states.ReturnStatus",
        "RefundStatusEnum": "payments.models.RefundStatus",
    },
    # Swagger UI from our static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Idempotency-Keys of POST /orders/ are kept at least 24 hours (the payment APIs' promise),
# then purged hourly by celery beat (below).
IDEMPOTENCY_KEY_TTL_HOURS = max(24, env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24))
# Orders one user may place, DRF rate syntax ("600/min", "1000/hour"); empty turns it off.
ORDER_CREATE_THROTTLE_RATE = env.str("ORDER_CREATE_THROTTLE_RATE", default="600/min") or None
API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=20)
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=100)
# Request bodies nested deeper than this (objects and arrays) are a 400 before any serializer
# sees them; the order body is three levels deep.
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=10)

# GET /api/v1/health/ready: the longest it may take (its PostgreSQL and Redis checks run side by
# side under this deadline), how long one answer is reused by a web process, and the queues that
# need a worker. Workers write a heartbeat per queue every third of HEALTH_WORKER_TTL; one that
# has not written for HEALTH_WORKER_TTL seconds counts as gone (ordersite/worker_heartbeat.py).
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=1.0)
HEALTH_CACHE_SECONDS = env.float("HEALTH_CACHE_SECONDS", default=1.0)
HEALTH_WORKER_TTL = env.float("HEALTH_WORKER_TTL", default=10.0)
HEALTH_QUEUES = list(WORKER_QUEUES)
# The admin's dashboard (/admin/dashboard/): how many minutes its charts span, how often the page
# asks for fresh figures, and how long one `inspect stats` answer (worker pool sizes, a broadcast
# that waits up to DASHBOARD_INSPECT_TIMEOUT for replies) is shared by every web process.
DASHBOARD_WINDOW_MINUTES = env.int("DASHBOARD_WINDOW_MINUTES", default=30)
DASHBOARD_REFRESH_SECONDS = env.float("DASHBOARD_REFRESH_SECONDS", default=5.0)
DASHBOARD_INSPECT_TIMEOUT = env.float("DASHBOARD_INSPECT_TIMEOUT", default=0.5)
DASHBOARD_POOLS_CACHE_SECONDS = env.float("DASHBOARD_POOLS_CACHE_SECONDS", default=10.0)
