"""ordersite.authentication: DRF's token authentication, its lookup compiled once: the same
answers for a good, an unknown and an inactive user's token, one query each."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_good_token_authenticates_its_user_with_one_query_for_token_and_user(
    django_assert_num_queries,
):
    user = UserFactory()
    token = Token.objects.create(user=user)
    for _ in range(2):  # compiled by the first request, reused by the second
        with django_assert_num_queries(2):  # the token with its user, then the (empty) page
            response = _client(token.key).get(URL)
        assert response.status_code == 200, response.content


def test_an_unknown_token_and_an_inactive_users_token_are_refused_as_drf_refuses_them():
    response = _client("0" * 40).get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid token."
    inactive = Token.objects.create(user=UserFactory(is_active=False))
    response = _client(inactive.key).get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "User inactive or deleted."
