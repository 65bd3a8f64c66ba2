"""Thin rclpy adapters: message conversion, parameter declaration, diagnostics, spinning, the
parameter client. Imported when first used."""

from waste_sorting.lazy import lazy_names

_NAMES = {
    "Diagnostics": "diagnostics",
    "NodeThreads": "executors",
    "bgr_to_image": "messages",
    "cell_markers": "markers",
    "declare": "parameters",
    "enable": "param_client",
    "items_to_cloud": "messages",
    "live_frames": "frames",
    "param": "param_client",
    "spin_node": "spin",
    "to_stamp": "messages",
    "warn_on_foreign_publishers": "graph",
    "watch": "parameters",
}
__all__ = sorted(_NAMES)
__getattr__ = lazy_names(__name__, _NAMES)
