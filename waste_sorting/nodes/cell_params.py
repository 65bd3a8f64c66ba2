"""Every node's parameter specs by node name: what a params file for the cell may set."""

from __future__ import annotations

from collections.abc import Sequence

from waste_sorting.params import Param


def cell_params() -> dict[str, Sequence[Param]]:
    from waste_sorting.nodes import actuator, camera_driver, classifier, tracker

    return {"camera_driver": camera_driver.PARAMS, "classifier": classifier.PARAMS, "tracker": tracker.PARAMS,
            "actuator": actuator.PARAMS}
