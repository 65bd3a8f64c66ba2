"""`waste-sorting run`: a node that fails stops the run with a clear error, it never hangs."""

from __future__ import annotations

import time

import pytest

from waste_sorting.cli import main

pytestmark = pytest.mark.slow


def test_failing_node_ends_the_run_with_its_error(monkeypatch):
    from waste_sorting.nodes.tracker import Tracker

    def broken(self, msg):  # noqa: ANN001
        raise RuntimeError("tracker exploded")

    monkeypatch.setattr(Tracker, "_on_items", broken)
    t0 = time.monotonic()
    with pytest.raises(SystemExit, match="tracker exploded"):
        main(["run", "--duration", "120", "--quiet"])
    assert time.monotonic() - t0 < 60
