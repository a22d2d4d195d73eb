"""Who is on the other end of a live connection, decided as the REST API decides it: a DRF token
(`Authorization: Token <key>`, or `?token=<key>` for clients that cannot set headers: browsers'
EventSource and WebSocket) or the Django session cookie."""

from dataclasses import dataclass
from http.cookies import SimpleCookie
from importlib import import_module
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib.auth import get_user
from django.http.request import split_domain_port, validate_host
from rest_framework.authtoken.models import Token

from .reads import run_sync

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


@dataclass(frozen=True)
class Credentials:
    token: str | None
    session_key: str | None
    origin: str | None


def header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def query(scope: dict[str, Any]) -> dict[str, str]:
    pairs = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {name: values[-1] for name, values in pairs.items()}


def credentials(scope: dict[str, Any]) -> Credentials:
    token = None
    keyword, _, key = (header(scope, b"authorization") or "").partition(" ")
    if keyword == "Token" and key.strip():
        token = key.strip()
    token = token or query(scope).get("token") or None
    cookies = SimpleCookie()
    cookies.load(header(scope, b"cookie") or "")
    morsel = cookies.get(settings.SESSION_COOKIE_NAME)
    return Credentials(
        token=token, session_key=morsel.value if morsel else None, origin=header(scope, b"origin")
    )


def _user(found: Credentials, *, check_origin: bool) -> "AbstractBaseUser | None":
    if found.token:
        # A token wins; a wrong one is refused, never replaced by the cookie (as DRF does).
        row = Token.objects.select_related("user").filter(key=found.token).first()
        return row.user if row is not None and row.user.is_active else None
    if not found.session_key:
        return None
    if check_origin and found.origin is not None and not _same_site(found.origin):
        return None
    engine = import_module(settings.SESSION_ENGINE)
    user = get_user(SimpleNamespace(session=engine.SessionStore(found.session_key)))
    return user if user.is_authenticated else None


def _same_site(origin: str) -> bool:
    """A browser sends the session cookie with any page's WebSocket: only pages of our own hosts
    may use it (cross-site WebSocket hijacking; Channels' AllowedHostsOriginValidator)."""
    host, _ = split_domain_port(urlsplit(origin).netloc)
    return bool(host) and validate_host(host, settings.ALLOWED_HOSTS)


async def authenticate(scope: dict[str, Any]) -> "AbstractBaseUser | None":
    """The connection's user, or None. WebSockets accept the session only from our own pages."""
    found = credentials(scope)
    if not (found.token or found.session_key):
        return None
    return await run_sync(_user, found, check_origin=scope["type"] == "websocket")
