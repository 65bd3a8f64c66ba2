"""The four ROS 2 nodes: thin adapters around the cell's stages (`waste_sorting.cell`). Each is also
an executable (`python -m waste_sorting.nodes.tracker`); imported when first used."""

from waste_sorting.lazy import lazy_names

_NAMES = {
    "Actuator": "actuator",
    "CameraDriver": "camera_driver",
    "Classifier": "classifier",
    "Tracker": "tracker",
}
__all__ = sorted(_NAMES)
__getattr__ = lazy_names(__name__, _NAMES)
