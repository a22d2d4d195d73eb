"""One list of error codes: the OpenAPI table (ordersite/openapi.py) against the exceptions that
carry them, both ways: every DomainError's code is there with its status, and nothing else is
but what DRF's exceptions answer."""

import importlib
import pkgutil
from pathlib import Path

from django.apps import apps
from rest_framework.exceptions import APIException

from ordersite.errors import DomainError
from ordersite.openapi import ERROR_CODES

ROOT = Path(__file__).resolve().parent.parent.parent
# What the handler answers itself, for an exception nobody planned for.
HANDLER_CODES = {"server_error": 500}
# Flower's config reads its login at import (and warns): it raises no error of the API.
NOT_IMPORTED = {"ordersite.flowerconfig"}


def _subclasses(cls: type) -> set[type]:
    return {sub for direct in cls.__subclasses__() for sub in {direct, *_subclasses(direct)}}


def _import_project() -> None:
    """Every module of ordersite and of our own apps (wherever they are moved), so that every
    subclass is defined."""
    packages = ["ordersite"] + [
        config.name for config in apps.get_app_configs() if Path(config.path).is_relative_to(ROOT)
    ]
    for package in packages:
        for info in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
            if ".migrations" not in info.name and info.name not in NOT_IMPORTED:
                importlib.import_module(info.name)


def _domain_errors() -> dict[str, type[DomainError]]:
    _import_project()
    return {
        cls.code: cls for cls in _subclasses(DomainError) if cls.__module__.split(".")[0] != "tests"
    }


def test_every_domain_error_code_is_in_the_openapi_table_with_its_status():
    missing = {code for code in _domain_errors() if code not in ERROR_CODES}
    assert not missing, f"add to ordersite/openapi.py ERROR_CODES: {sorted(missing)}"
    wrong = {
        code: (ERROR_CODES[code][0], cls.http_status)
        for code, cls in _domain_errors().items()
        if ERROR_CODES[code][0] != cls.http_status
    }
    assert not wrong, f"status in the table != the exception's: {wrong}"


def test_the_openapi_table_lists_no_code_that_nothing_raises():
    drf = {cls.default_code: cls.status_code for cls in _subclasses(APIException)}
    known = {
        **drf,
        **HANDLER_CODES,
        **{code: cls.http_status for code, cls in _domain_errors().items()},
    }
    stale = {code for code in ERROR_CODES if code not in known}
    assert not stale, f"no exception carries these codes: {sorted(stale)}"
    assert all(ERROR_CODES[code][0] == known[code] for code in ERROR_CODES)


def test_no_two_domain_errors_share_a_code():
    errors = [cls for cls in _subclasses(DomainError) if cls.__module__.split(".")[0] != "tests"]
    codes = [cls.code for cls in errors]
    assert len(codes) == len(set(codes)), sorted(codes)
