"""package.xml names a rosdep key for every module the cell imports at run time."""

from __future__ import annotations

import ast
import sys
import xml.etree.ElementTree as ET

# Module -> rosdep key. Tools that only training, export or a GPU host need are named as optional.
ROSDEP_KEY = {
    "ament_index_python": "ament_index_python", "builtin_interfaces": "builtin_interfaces",
    "cv2": "python3-opencv", "diagnostic_msgs": "diagnostic_msgs", "geometry_msgs": "geometry_msgs",
    "matplotlib": "python3-matplotlib", "tqdm": "python3-tqdm", "numpy": "python3-numpy", "onnx": "python3-onnx-pip",
    "onnxruntime": "python3-onnxruntime-pip", "rcl_interfaces": "rcl_interfaces", "rclpy": "rclpy",
    "rosbags": "python3-rosbags-pip", "rosgraph_msgs": "rosgraph_msgs", "sensor_msgs": "sensor_msgs",
    "serial": "python3-serial", "std_msgs": "std_msgs", "std_srvs": "std_srvs",
    "visualization_msgs": "visualization_msgs", "yaml": "python3-yaml", "launch": "launch",
    "launch_ros": "launch_ros",
}
# Imported only where they exist: TensorRT and CUDA on a GPU host (JetPack / NVIDIA's own packages),
# torch for `bench --teacher`, onnxconverter_common for `quantize --fp16`.
OPTIONAL = {"tensorrt", "cuda", "torch", "onnxconverter_common", "waste_sorting"}


def test_every_run_time_import_has_its_rosdep_key(repo):
    modules = set()
    files = [p for p in (repo / "waste_sorting").rglob("*.py") if "model" not in p.parts]
    files += list((repo / "launch").glob("*.py"))
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = modules - set(sys.stdlib_module_names) - OPTIONAL
    unmapped = third_party - set(ROSDEP_KEY)
    assert not unmapped, f"no rosdep key known for {sorted(unmapped)}: add it to ROSDEP_KEY and package.xml"
    declared = {e.text for e in ET.parse(repo / "package.xml").getroot() if e.tag in ("exec_depend", "depend")}
    missing = {ROSDEP_KEY[m] for m in third_party} - declared
    assert not missing, f"package.xml lacks exec_depend {sorted(missing)}"
