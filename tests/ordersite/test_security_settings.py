"""Production's defaults (DEBUG off) pass Django's deployment checks; DEBUG on stays plain HTTP."""

import os
import secrets
import subprocess
import sys

import pytest

from ..conftest import ROOT

# Everything that could make a production run look safer (or worse) than its defaults.
_SECURITY_VARS = {
    "DEBUG",
    "SECRET_KEY",
    "SECURE_SSL_REDIRECT",
    "SECURE_PROXY_SSL_HEADER",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {name: value for name, value in os.environ.items() if name not in _SECURITY_VARS}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_production_defaults():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/health/ready"])
def test_ssl_redirect_spares_the_health_checks(client, settings, path):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/api/v1/").status_code == 301
    assert client.get("/api/v1/")["Location"].startswith("https://")
    assert client.get(path).status_code != 301


def test_debug_serves_plain_http_without_hsts(settings):
    """The tests' process, like `make run`, has DEBUG on (pytest-django turns it off only later)."""
    assert not settings.SECURE_SSL_REDIRECT
    assert not settings.SESSION_COOKIE_SECURE
    assert not settings.CSRF_COOKIE_SECURE
    assert settings.SECURE_HSTS_SECONDS == 0


def test_a_tls_proxy_header_is_trusted_only_when_named():
    probe = "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)"
    named = _manage(
        "shell", "--no-imports", "-c", probe, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto"
    )
    assert named.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')", named.stderr
    assert _manage("shell", "--no-imports", "-c", probe).stdout.strip() == "None"
