"""Declare `Param` specs on a node and validate every change against them."""

from __future__ import annotations

import array
from collections.abc import Callable, Sequence
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter

from waste_sorting.errors import ParamsError
from waste_sorting.params import Param, by_name
from waste_sorting.params_file import ros_owned, unknown_name


def declare(node: Node, specs: Sequence[Param]) -> dict[str, Any]:
    """Declare all specs (values from the params file override defaults); return current values.

    A value the file gives out of range or of the wrong type, or a name no node of the cell has
    (a typo rcl would ignore), is a ParamsError: the node refuses to start without a setting the
    user wrote, with one line saying which and why.
    """
    check_names(node)
    for p in specs:
        desc = ParameterDescriptor(description=p.describe(), read_only=p.read_only)
        if p.kind is float and (p.min is not None or p.max is not None):
            desc.floating_point_range = [FloatingPointRange(
                from_value=float(p.min if p.min is not None else -1e300),
                to_value=float(p.max if p.max is not None else 1e300), step=0.0)]
        elif p.kind is int and (p.min is not None or p.max is not None):
            desc.integer_range = [IntegerRange(
                from_value=int(p.min if p.min is not None else -(2**62)),
                to_value=int(p.max if p.max is not None else 2**62), step=1)]
        try:
            node.declare_parameter(p.name, p.default, desc)
        except ParameterException:
            given = node._parameter_overrides[p.name].value if p.name in node._parameter_overrides else None
            why = p.check(given) or f"{p.name}={given!r} is not a {p.kind.__name__}"
            raise ParamsError(f"{node.get_fully_qualified_name()}: {why} "
                              "(set by the params file, a launch argument or an option)") from None
    values = {p.name: node.get_parameter(p.name).value for p in specs}
    values = {k: list(v) if isinstance(v, (tuple, array.array)) else v for k, v in values.items()}
    for p in specs:
        reason = p.check(values[p.name])
        if reason:
            raise ParamsError(f"{node.get_fully_qualified_name()}: bad value in the params file: {reason}")
    return values


def check_names(node: Node) -> None:
    """Refuse a parameter the node was given that no node of the cell declares (a misspelt name)."""
    from waste_sorting.cell.specs import CELL as specs

    every = sorted({p.name for s in specs.values() for p in s})
    own = [p.name for p in specs.get(node.get_name(), ())] or every
    for name in node._parameter_overrides:
        if name not in every and not ros_owned(name):
            raise unknown_name("params file", node.get_fully_qualified_name(), name, own)


def watch(node: Node, specs: Sequence[Param], current: dict[str, Any],
          apply: Callable[[dict[str, Any]], None]) -> None:
    """Validate changes per spec, then let ``apply`` build the new state.

    ``apply`` gets the full candidate value set and raises ValueError to reject
    it (cross-parameter checks); on rejection nothing changes and the caller
    gets the reason, as `ros2 param set` shows it.
    """
    table = by_name(specs)

    def on_set(params: list[Parameter]) -> SetParametersResult:
        candidate = dict(current)
        for prm in params:
            spec = table.get(prm.name)
            if spec is None:
                continue  # use_sim_time and other ROS-owned parameters
            if spec.read_only:
                return SetParametersResult(successful=False, reason=f"{prm.name} is read-only at run time")
            reason = spec.check(prm.value)
            if reason:
                node.get_logger().warning(f"rejected: {reason}")
                return SetParametersResult(successful=False, reason=reason)
            value = prm.value
            if spec.kind is float:
                value = float(value)
            elif spec.kind is list:
                value = list(value)  # rclpy hands arrays over as array.array
            candidate[prm.name] = value
        try:
            apply(candidate)
        except ValueError as exc:
            node.get_logger().warning(f"rejected: {exc}")
            return SetParametersResult(successful=False, reason=str(exc))
        current.update(candidate)
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)
