"""Parameter specs: every tunable is validated with a reason (ROS-free part)."""

import subprocess
import sys

import pytest
import yaml

from waste_sorting.cell import specs, tracker_settings
from waste_sorting.params import Param, defaults

ALL = [p for node in specs.CELL.values() for p in node]


def test_every_parameter_is_described_and_its_default_valid():
    for p in ALL:
        assert p.description, p.name
        assert p.check(p.default) is None, p.name


@pytest.mark.parametrize("value, ok", [(2.0, True), (3, True), (-0.1, False), (11.0, False),
                                       (float("nan"), False), ("fast", False), (True, False)])
def test_range_and_type(value, ok):
    spec = Param("belt_speed", 2.0, "belt speed", "m/s", 0.0, 10.0)
    reason = spec.check(value)
    assert (reason is None) == ok
    if not ok:
        assert "belt_speed" in reason


def test_choices_and_lists():
    src = Param("source", "sim", "frame source", choices=("sim", "video"))
    assert src.check("video") is None
    assert "not one of" in src.check("usb")
    conf = Param("bin_min_confidence", [0.5], "thresholds", "", 0.0, 1.0)
    assert conf.check([0.2, 0.9]) is None
    assert "above the maximum" in conf.check([0.2, 1.5])
    assert "must be a list" in conf.check(0.5)


def test_tracker_cross_checks():
    values = defaults(specs.TRACKER)
    tracker_settings(values)  # the defaults are consistent
    for key, value, match in [("bin_classes", ["glass", "tin", "metal", "paper", "plastic"], "unknown"),
                              ("bin_min_confidence", [0.5], "one entry per ejector"),
                              ("view_x_max", 1.5, "downstream of the camera view"),
                              ("ejector_x", [1.4, 1.7], "bins but only")]:
        bad = dict(values, **{key: value})
        with pytest.raises(ValueError, match=match):
            tracker_settings(bad)


def test_the_shipped_params_file_sets_every_parameter_to_its_declared_default(repo):
    """Each default is declared once (the specs, read from the core's dataclasses); the shipped file
    spells them out for the technician and must not drift from them."""
    config = yaml.safe_load((repo / "config" / "sorting_cell.yaml").read_text())
    shared = config["/**"]["ros__parameters"]
    for node, node_specs in specs.CELL.items():
        given = {**shared, **config[f"/**/{node}"]["ros__parameters"]}
        for p in node_specs:
            assert p.name in given, f"{node}.{p.name} missing from config/sorting_cell.yaml"
            assert given[p.name] == p.default, f"{node}.{p.name}: file {given[p.name]!r}, spec {p.default!r}"


def test_the_core_and_the_offline_tools_import_no_ros(repo):
    """`evaluate`, `harvest` and `calibrate` run where no ROS is installed: their modules and the
    cell's stages import neither rclpy nor a ROS message package."""
    code = ("import sys; import waste_sorting.cell, waste_sorting.evaluation.offline, "
            "waste_sorting.adaptation.harvest, waste_sorting.adaptation.thresholds; "
            "ros = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('rclpy', 'sensor_msgs', 'std_msgs', 'builtin_interfaces', 'rcl_interfaces')); print(ros)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=repo, check=True)
    assert out.stdout.strip() == "[]", out.stdout
    grep = subprocess.run(["grep", "-rn", r"import rclpy\|from rclpy", "waste_sorting/cell", "waste_sorting/evaluation",
                           "waste_sorting/tracking", "waste_sorting/vision", "waste_sorting/scheduling",
                           "waste_sorting/adaptation"], capture_output=True, text=True, cwd=repo)
    assert grep.stdout == "", grep.stdout


def test_no_import_cycles(repo):
    """The package's module-level imports form no cycle (what `import` order then cannot break)."""
    import ast

    root = repo / "waste_sorting"
    mods = {".".join(p.relative_to(repo).with_suffix("").parts).removesuffix(".__init__"): p
            for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):  # deferred imports too: a cycle they hide is one
            targets = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module for a in node.names] \
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            for t in targets:
                parts = t.split(".")
                for k in range(2, len(parts) + 1):  # importing a.b.c runs a.b's __init__ first
                    dep = ".".join(parts[:k])
                    if dep in mods and dep != name and not name.startswith(dep + "."):
                        deps.add(dep)
        graph[name] = deps
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        seen[n] = 1
        stack.append(n)
        for d in sorted(graph[n]):
            assert seen.get(d) != 1, "import cycle: " + " -> ".join(stack[stack.index(d):] + [d])
            if d not in seen:
                visit(d)
        stack.pop()
        seen[n] = 2

    for n in sorted(graph):
        if n not in seen:
            visit(n)


def test_the_parameter_reference_is_generated_from_the_specs(repo):
    doc = (repo / "doc" / "parameters.md").read_text()
    assert doc == specs.parameter_table(), ("doc/parameters.md is out of date: regenerate it with "
                                            "python -c 'from waste_sorting.cell.specs import parameter_table; "
                                            "print(parameter_table(), end=\"\")' > doc/parameters.md")


def test_the_readme_lists_every_command(repo):
    from waste_sorting.cli import COMMANDS

    readme = (repo / "README.md").read_text()
    missing = [c for c in COMMANDS if f"| `{c}" not in readme and f", `{c}`" not in readme]
    assert not missing, f"README's command table lacks {missing}"


def test_every_package_names_its_public_api():
    import importlib
    import pkgutil

    import waste_sorting

    for info in pkgutil.iter_modules(waste_sorting.__path__):
        if not info.ispkg:
            continue
        pkg = importlib.import_module(f"waste_sorting.{info.name}")
        assert getattr(pkg, "__all__", None), f"waste_sorting.{info.name} has no __all__"
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None, f"waste_sorting.{info.name}.{name}"
