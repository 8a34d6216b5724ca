"""Xylo tests are marked `xylo`: they run SynSense's XyloSim (rockpool + xylosim) as the oracle."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/xylo/" in str(item.fspath):
            item.add_marker(pytest.mark.xylo)
