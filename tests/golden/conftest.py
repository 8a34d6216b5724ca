"""Golden integer traces: regenerated only with --regen-golden."""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    parser.addoption("--regen-golden", action="store_true", help="rewrite tests/golden/cases from the reference simulator")


@pytest.fixture
def regen_golden(request) -> bool:
    return bool(request.config.getoption("--regen-golden"))
