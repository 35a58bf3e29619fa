"""Fixtures for the generated-client tests (run by scripts/test-clients.sh).

The script starts the server on port 0 with a fresh SQLite database, creates
an API key for the account "acme", generates `booking_api_client` from the
live /openapi.json with openapi-python-client and puts it on PYTHONPATH, then
passes the server's address, the key and the document in the environment.
"""

import json
import os

import pytest


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run these tests through scripts/test-clients.sh")
    return value


@pytest.fixture(scope="session")
def client():
    from booking_api_client import AuthenticatedClient

    with AuthenticatedClient(
        base_url=_env("BOOKING_API_URL"),
        token=_env("BOOKING_API_KEY"),
        raise_on_unexpected_status=True,
        timeout=30.0,
    ) as client:
        yield client


@pytest.fixture(scope="session")
def document() -> dict:
    with open(_env("BOOKING_OPENAPI"), encoding="utf-8") as f:
        return json.load(f)
