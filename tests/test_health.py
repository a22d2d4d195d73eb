"""Liveness and readiness against the real PostgreSQL, Redis and a real worker."""

import time

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_liveness_needs_no_auth():
    response = APIClient().get("/api/v1/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.usefixtures("live_worker")
def test_ready_when_database_redis_and_a_worker_per_queue_answer(settings):
    settings.HEALTH_CHECK_TIMEOUT = 1.5  # generous: other test runs may share the CPU
    started = time.monotonic()
    response = APIClient().get("/api/v1/health/ready")
    assert response.status_code == 200, response.content
    checks = response.json()["checks"]
    assert checks == {
        "database": "ok",
        "redis": "ok",
        "worker:orders": "ok",
        "worker:payments": "ok",
        "worker:inventory": "ok",
        "worker:shipping": "ok",
    }
    assert time.monotonic() - started < 6


@pytest.mark.usefixtures("live_worker")
def test_503_names_a_queue_no_worker_consumes(settings):
    settings.HEALTH_CHECK_TIMEOUT = 1.5
    settings.HEALTH_QUEUES = [*settings.HEALTH_QUEUES, "nobody-listens"]
    response = APIClient().get("/api/v1/health/ready")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "not_ready"
    assert "worker:nobody-listens" in error["message"]
    assert error["data"]["checks"]["worker:nobody-listens"] == "down"
    assert error["data"]["checks"]["worker:orders"] == "ok"


def test_503_names_redis_and_the_workers_when_redis_is_down(settings):
    settings.HEALTH_CHECK_TIMEOUT = 0.5
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = APIClient().get("/api/v1/health/ready")
    assert response.status_code == 503
    checks = response.json()["error"]["data"]["checks"]
    assert checks["database"] == "ok"
    assert checks["redis"] == "down"
    assert checks["worker:orders"] == "down"
