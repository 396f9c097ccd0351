"""Shared pytest fixtures of tests/interop: a smh-devserver of its own per test module."""

import pytest

from smh_devserver import start_devserver


@pytest.fixture(scope="module")
def devserver():
    with start_devserver() as ready:
        yield ready
