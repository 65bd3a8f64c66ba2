"""Evaluate the package's launch file without ROS 2's launch: record what it asks launch_ros to start.

``launch``, ``launch_ros`` and the ament index are not on PyPI; these stand-ins
implement only the calls the launch file makes, so a test sees the
``Node(...)`` and ``ExecuteProcess(...)`` actions it returns for given launch
arguments, and can start those processes the way launch_ros does
(``cellproc.launched_command``).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any


class _Recorded:
    def __init__(self, kind: str, **kwargs: Any) -> None:
        self.kind, self.kwargs = kind, kwargs


class _LaunchConfiguration:
    def __init__(self, name: str) -> None:
        self.name = name

    def perform(self, context: dict[str, str]) -> str:
        return context[self.name]


def _stub_modules(share: Path, prefix: Path) -> dict[str, types.ModuleType]:
    launch = types.ModuleType("launch")
    launch.LaunchDescription = lambda entities: list(entities)
    actions = types.ModuleType("launch.actions")
    actions.DeclareLaunchArgument = lambda name, default_value="", description="": _Recorded(
        "argument", name=name, default=default_value)
    actions.ExecuteProcess = lambda **kw: _Recorded("process", **kw)
    actions.OpaqueFunction = lambda function: _Recorded("opaque", function=function)
    subs = types.ModuleType("launch.substitutions")
    subs.LaunchConfiguration = _LaunchConfiguration
    launch.actions, launch.substitutions = actions, subs
    launch_ros = types.ModuleType("launch_ros")
    ros_actions = types.ModuleType("launch_ros.actions")
    ros_actions.Node = lambda **kw: _Recorded("node", **kw)
    launch_ros.actions = ros_actions
    ament = types.ModuleType("ament_index_python")
    packages = types.ModuleType("ament_index_python.packages")
    packages.get_package_share_directory = lambda _name: str(share)
    packages.get_package_prefix = lambda _name: str(prefix)
    ament.packages = packages
    return {"launch": launch, "launch.actions": actions, "launch.substitutions": subs, "launch_ros": launch_ros,
            "launch_ros.actions": ros_actions, "ament_index_python": ament, "ament_index_python.packages": packages}


def launch_actions(launch_file: Path, share: Path, arguments: dict[str, str]) -> list[_Recorded]:
    """The actions ``ros2 launch PKG FILE name:=value ...`` would execute, in order."""
    stubs = _stub_modules(share, Path("/opt/waste_sorting"))
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    try:
        spec = importlib.util.spec_from_file_location("sorting_cell_launch", launch_file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        entities = module.generate_launch_description()
        context = {e.kwargs["name"]: e.kwargs["default"] for e in entities if e.kind == "argument"}
        unknown = set(arguments) - set(context)
        assert not unknown, f"the launch file declares no argument {sorted(unknown)}"
        context.update(arguments)
        out: list[_Recorded] = []
        for e in entities:
            if e.kind == "opaque":
                out.extend(e.kwargs["function"](context))
            elif e.kind != "argument":
                out.append(e)
        return out
    finally:
        for name, mod in saved.items():
            if mod is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = mod
