"""Shared pytest setup: quiet warp, a session-wide kernel cache, the ``slow`` marker switch."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long validations carry @pytest.mark.slow and run with EMU4D_FULL=1 or ``-m slow``.

    They are deselected (and reported as such), never silently skipped.
    """
    if os.environ.get("EMU4D_FULL") == "1" or "slow" in (config.getoption("-m") or ""):
        return
    selected = [item for item in items if "slow" not in item.keywords]
    deselected = [item for item in items if "slow" in item.keywords]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected
