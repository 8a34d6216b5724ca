"""Lava tests are marked `lava`; they run real Lava processes."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/lava/" in str(item.fspath):
            item.add_marker(pytest.mark.lava)
