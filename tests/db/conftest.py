"""The database tests' fixture: the test's own database on the stack's MongoDB-protocol server."""

from __future__ import annotations

import pytest

from kafkatrade.db import mongo


@pytest.fixture
def db(isolated):
    """The test's own database with the indexes the dbservice makes; dropped after."""
    database = mongo.connect(isolated)
    mongo.ensure_indexes(database)
    yield database
    database.client.drop_database(database.name)
    database.client.close()
