"""`waste-sorting param` and `enable`/`disable`: what `ros2 param` and `ros2 service call` do, without the ros2 CLI.

They use the standard parameter services of each node (``NODE/list_parameters``,
``get_parameters``, ``set_parameters``, ``describe_parameters``) and the
actuator's ``~/enable`` (std_srvs/SetBool) over DDS, in the ``ROS_DOMAIN_ID``
of the shell and under ``--namespace``. A refused value prints the node's
reason and exits 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import rclpy
import yaml
from rcl_interfaces.msg import ParameterType
from rclpy.node import Node
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.parameter_client import AsyncParameterClient

from waste_sorting.errors import UsageError, WasteSortingError

NODE_NAMES = ("camera_driver", "classifier", "tracker", "actuator")
_TYPE_NAMES = {ParameterType.PARAMETER_BOOL: "bool", ParameterType.PARAMETER_INTEGER: "integer",
               ParameterType.PARAMETER_DOUBLE: "double", ParameterType.PARAMETER_STRING: "string",
               ParameterType.PARAMETER_BYTE_ARRAY: "byte array", ParameterType.PARAMETER_BOOL_ARRAY: "bool array",
               ParameterType.PARAMETER_INTEGER_ARRAY: "integer array",
               ParameterType.PARAMETER_DOUBLE_ARRAY: "double array",
               ParameterType.PARAMETER_STRING_ARRAY: "string array"}


class NodeUnreachable(WasteSortingError):
    pass


def node_path(namespace: str, node: str) -> str:
    ns = namespace.strip("/")
    return f"/{ns}/{node}" if ns else f"/{node}"


@contextmanager
def _client_node() -> Iterator[Node]:
    rclpy.init()
    node = rclpy.create_node("waste_sorting_param_cli", start_parameter_services=False)
    try:
        yield node
    finally:
        node.destroy_node()
        rclpy.shutdown()


def _call(node: Node, future: Any, what: str, timeout: float) -> Any:
    rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
    if not future.done() or future.result() is None:
        raise NodeUnreachable(f"{what}: no answer in {timeout:.0f} s")
    return future.result()


def _parameter_client(node: Node, target: str, timeout: float) -> AsyncParameterClient:
    client = AsyncParameterClient(node, target)
    if not client.wait_for_services(timeout_sec=timeout):
        raise NodeUnreachable(f"no node {target} answers (is the cell running in this ROS_DOMAIN_ID, "
                              "and under this --namespace?)")
    return client


def parse_value(text: str) -> Any:
    """A value as `ros2 param set` reads it: YAML (1.0, true, [0.5, 0.6], text)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"cannot read {text!r} as a value: {exc}") from exc


def _as_parameter(name: str, value: Any, current_type: int) -> Parameter:
    """The value typed as the node declared it: 2 for a double parameter is 2.0."""
    if current_type == ParameterType.PARAMETER_DOUBLE and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if current_type == ParameterType.PARAMETER_DOUBLE_ARRAY and isinstance(value, list):
        value = [float(v) for v in value]
    if current_type == ParameterType.PARAMETER_STRING and not isinstance(value, str):
        value = str(value)
    return Parameter(name, value=value)


def param(action: str, node_name: str, name: str | None, value: str | None, namespace: str,
          timeout: float) -> list[str]:
    """Run one `param` action; returns the lines to print."""
    target = node_path(namespace, node_name)
    if action in ("get", "describe", "set") and not name:
        raise UsageError(f"param {action} needs a parameter name")
    if action == "set" and value is None:
        raise UsageError("param set needs a value")
    with _client_node() as node:
        client = _parameter_client(node, target, timeout)
        if action == "list":
            result = _call(node, client.list_parameters(), f"{target} list_parameters", timeout)
            return sorted(result.result.names)
        assert name is not None
        described = _call(node, client.describe_parameters([name]), f"{target} describe_parameters", timeout)
        desc = described.descriptors[0] if described.descriptors else None
        if desc is None or desc.type == ParameterType.PARAMETER_NOT_SET:
            listing = _call(node, client.list_parameters(), f"{target} list_parameters", timeout).result.names
            from difflib import get_close_matches

            near = get_close_matches(name, listing, n=1)
            hint = f"; did you mean {near[0]}?" if near else f"; `waste-sorting param list {node_name}` lists them"
            raise UsageError(f"{target} has no parameter {name}{hint}")
        if action == "describe":
            lines = [f"Parameter name: {name}", f"  Type: {_TYPE_NAMES.get(desc.type, desc.type)}",
                     f"  Description: {desc.description}", f"  Read only: {desc.read_only}"]
            for r in list(desc.floating_point_range) + list(desc.integer_range):
                lines.append(f"  Range: {r.from_value} .. {r.to_value}")
            return lines
        if action == "get":
            got = _call(node, client.get_parameters([name]), f"{target} get_parameters", timeout)
            return [f"{name}: {parameter_value_to_python(got.values[0])}"]
        assert value is not None
        parameter = _as_parameter(name, parse_value(value), desc.type)
        result = _call(node, client.set_parameters([parameter]), f"{target} set_parameters", timeout).results[0]
        if not result.successful:
            raise WasteSortingError(f"{target} refused {name}={value}: {result.reason}")
        return [f"{target}: {name} set to {parameter.value}"]


def enable(on: bool, namespace: str, timeout: float) -> list[str]:
    """The actuator's software stop (``~/enable``): disarm or re-arm firing."""
    from std_srvs.srv import SetBool

    service = f"{node_path(namespace, 'actuator')}/enable"
    with _client_node() as node:
        client = node.create_client(SetBool, service)
        if not client.wait_for_service(timeout_sec=timeout):
            raise NodeUnreachable(f"no service {service} (is the cell running in this ROS_DOMAIN_ID, "
                                  "and under this --namespace?)")
        response = _call(node, client.call_async(SetBool.Request(data=on)), service, timeout)
        if not response.success:
            raise WasteSortingError(f"{service} refused: {response.message}")
        return [f"{service}: {response.message}"]
