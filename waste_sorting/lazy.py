"""A package's public names, imported on first use (PEP 562): for packages whose modules are heavy or
need a runtime others do not (PyTorch for `model`, rclpy for `ros` and `nodes`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_names(package: str, names: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that finds ``names[attr]`` (a module of ``package``) when asked."""

    def getattr_(attr: str) -> Any:
        if attr not in names:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        return getattr(importlib.import_module(f"{package}.{names[attr]}"), attr)

    return getattr_
