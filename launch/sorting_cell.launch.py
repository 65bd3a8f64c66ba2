"""Start the four waste_sorting nodes as separate processes from one params file.

    ros2 launch waste_sorting sorting_cell.launch.py \
        params_file:=/path/to/sorting_cell.yaml serial_port:=/dev/ttyACM0 camera_source:=device

Every argument reaches its node whatever the params file holds: each node's
overrides go in a params file of its own, after ``params_file``
(``waste_sorting.launching`` says why). ``sim:=true`` renders the simulated
belt and serves the serial protocol from a controller emulator on a
pseudo-terminal of this cell's own, removed on exit. ``namespace:=NAME`` moves
the whole cell (topics, services, parameters) under ``/NAME``.
"""

import atexit
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from ament_index_python.packages import get_package_prefix, get_package_share_directory
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription
from waste_sorting.launching import CellLaunch, node_overrides, sim_link, write_override_file

ARGUMENTS = {
    "params_file": "ROS 2 parameter file for all four nodes",
    "sim": "true: simulated camera and controller emulator instead of hardware",
    "camera_source": "sim | video | images | device; empty: the params file's",
    "serial_port": "valve controller / robot interface serial device; empty: the params file's",
    "use_sim_time": "follow /clock (rosbag replay)",
    "namespace": "ROS namespace of the whole cell (two cells on one host)",
}


def _cell(context: object, *_args: object, **_kwargs: object) -> list:
    value = {name: LaunchConfiguration(name).perform(context) for name in ARGUMENTS}
    cell = CellLaunch.from_strings(value["sim"], value["camera_source"], value["serial_port"],
                                   value["use_sim_time"], value["namespace"])
    run_id = uuid.uuid4().hex[:8]
    link = sim_link(cell.namespace, run_id) if cell.sim else None
    overrides_dir = Path(tempfile.mkdtemp(prefix=f"waste_sorting-launch-{run_id}-"))
    atexit.register(shutil.rmtree, overrides_dir, True)
    actions = []
    if link is not None:
        cli = os.path.join(get_package_prefix("waste_sorting"), "lib", "waste_sorting", "waste-sorting")
        actions.append(ExecuteProcess(cmd=[cli, "controller-emulator", "--link", str(link)], output="screen",
                                      sigterm_timeout="5"))
    for name, values in node_overrides(cell, link).items():
        override = write_override_file(name, values, overrides_dir)
        actions.append(Node(package="waste_sorting", executable=name, name=name, namespace=cell.namespace,
                            output="screen", parameters=[value["params_file"], str(override)],
                            respawn=True, respawn_delay=2.0, sigterm_timeout="5"))
    return actions


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("waste_sorting")
    defaults = {"params_file": os.path.join(share, "config", "sorting_cell.yaml"), "sim": "false",
                "camera_source": "", "serial_port": "", "use_sim_time": "false", "namespace": ""}
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=defaults[name], description=text)
          for name, text in ARGUMENTS.items()),
        OpaqueFunction(function=_cell),
    ])
