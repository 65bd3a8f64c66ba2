"""Start the four waste_sorting nodes as separate processes from one params file.

    ros2 launch waste_sorting sorting_cell.launch.py \
        params_file:=/path/to/sorting_cell.yaml serial_port:=/dev/ttyUSB0 use_sim_time:=false sim:=false

With ``sim:=true`` the camera renders the simulated belt and a controller
emulator serves the serial protocol on a pseudo-terminal linked at
``/tmp/waste_sorting_tty`` (the actuator uses that instead of serial_port).
``waste-sorting run`` starts the same nodes in one process from the same file.
"""

import os

from ament_index_python.packages import get_package_prefix, get_package_share_directory
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.conditions import IfCondition, UnlessCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node

from launch import LaunchDescription

SIM_PORT = "/tmp/waste_sorting_tty"


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("waste_sorting")
    cli = os.path.join(get_package_prefix("waste_sorting"), "lib", "waste_sorting", "waste-sorting")
    params_file = LaunchConfiguration("params_file")
    serial_port = LaunchConfiguration("serial_port")
    use_sim_time = LaunchConfiguration("use_sim_time")
    sim = LaunchConfiguration("sim")
    port = PythonExpression(["'", SIM_PORT, "' if '", sim, "' == 'true' else '", serial_port, "'"])

    def node(executable: str, overrides: dict, **kwargs: object) -> Node:
        return Node(package="waste_sorting", executable=executable, name=executable, output="screen",
                    parameters=[params_file, {"use_sim_time": use_sim_time, **overrides}],
                    respawn=True, respawn_delay=2.0, **kwargs)

    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "sorting_cell.yaml"),
                              description="ROS 2 parameter file for all four nodes"),
        DeclareLaunchArgument("serial_port", default_value="/dev/ttyUSB0",
                              description="valve controller / robot interface serial device"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="follow /clock (rosbag replay)"),
        DeclareLaunchArgument("sim", default_value="false",
                              description="simulated camera and controller emulator instead of hardware"),
        ExecuteProcess(cmd=[cli, "controller-emulator", "--link", SIM_PORT], output="screen",
                       condition=IfCondition(sim)),
        node("camera_driver", {"source": "sim"}, condition=IfCondition(sim)),
        node("camera_driver", {}, condition=UnlessCondition(sim)),
        node("classifier", {}),
        node("tracker", {}),
        node("actuator", {"port": port}),
    ])
