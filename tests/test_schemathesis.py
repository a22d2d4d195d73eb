"""schemathesis against the generated OpenAPI schema, in process through Django's WSGI app,
as staff (who may call every endpoint): no input it can derive from the schema makes a 5xx,
and every answer has a status and body the schema documents."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .factories import OrderFactory, ProductFactory

# Bounded: about 15 operations x this many examples stays a few hundred cases, well under a minute.
EXAMPLES_PER_OPERATION = 25


# Readiness answers 503 by design when no worker runs; tests/test_health.py covers it.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application()).exclude(
    path="/api/v1/health/ready"
)


@pytest.fixture
def _keep_the_test_transaction(db):
    """Raw WSGI closes "old" database connections around each request, which would close the
    test's transaction; Django's own test client unhooks the same receivers."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(staff, token_for, _keep_the_test_transaction):
    product = ProductFactory(sku="prod-1")
    OrderFactory(customer=staff, lines=[(product, 1)])
    return token_for(staff)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_request_the_schema_allows_makes_a_server_error(case, staff_token):
    response = case.call(headers={"Authorization": f"Token {staff_token}"})
    # Beyond "no 5xx": every answer is one the schema documents, in the documented shape.
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
