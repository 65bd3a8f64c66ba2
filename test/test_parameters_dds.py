"""Parameter changes on a running node through the parameter service, as `ros2 param set` does."""

from __future__ import annotations

import time

import pytest
import rclpy
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import DescribeParameters, GetParameters, SetParameters

from cellproc import start_nodes, stop_nodes

pytestmark = pytest.mark.slow


def _call(node, client, request, timeout=20.0):
    assert client.wait_for_service(timeout_sec=timeout), f"{client.srv_name} not available"
    future = client.call_async(request)
    rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
    assert future.done(), "no answer"
    return future.result()


def _double(name: str, value: float) -> ParameterMsg:
    return ParameterMsg(name=name, value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value))


def _strings(name: str, value: list[str]) -> ParameterMsg:
    return ParameterMsg(name=name, value=ParameterValue(type=ParameterType.PARAMETER_STRING_ARRAY,
                                                        string_array_value=value))


def test_tracker_parameters_are_validated_live(repo, tmp_path):
    procs = start_nodes(repo / "config" / "sorting_cell.yaml", {}, tmp_path, only=("tracker",))
    rclpy.init()
    node = rclpy.create_node("param_client")
    try:
        set_cli = node.create_client(SetParameters, "/tracker/set_parameters")
        get_cli = node.create_client(GetParameters, "/tracker/get_parameters")
        desc_cli = node.create_client(DescribeParameters, "/tracker/describe_parameters")

        ok = _call(node, set_cli, SetParameters.Request(parameters=[_double("belt_speed", 2.5)]))
        assert ok.results[0].successful

        bad = _call(node, set_cli, SetParameters.Request(parameters=[_double("belt_speed", -1.0)]))
        assert not bad.results[0].successful and bad.results[0].reason

        unknown = _call(node, set_cli, SetParameters.Request(
            parameters=[_strings("bin_classes", ["cardboard", "glass", "tin", "paper", "plastic"])]))
        assert not unknown.results[0].successful and "unknown" in unknown.results[0].reason

        inconsistent = _call(node, set_cli, SetParameters.Request(parameters=[_double("view_x_max", 2.0)]))
        assert not inconsistent.results[0].successful  # the view would overlap the ejectors

        got = _call(node, get_cli, GetParameters.Request(names=["belt_speed", "bin_classes"]))
        assert got.values[0].double_value == 2.5  # the rejected values left the accepted one in place
        assert list(got.values[1].string_array_value) == ["cardboard", "glass", "metal", "paper", "plastic"]

        described = _call(node, desc_cli, DescribeParameters.Request(names=["belt_speed"]))
        d = described.descriptors[0]
        assert "m/s" in d.description and d.floating_point_range[0].to_value == 10.0
    finally:
        node.destroy_node()
        rclpy.shutdown()
        stop_nodes(procs)
    time.sleep(0.1)
