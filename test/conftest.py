"""Shared fixtures: isolated DDS domain per test run, paths to shipped data."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TRASHNET = REPO.parent / "shared" / "data" / "trashnet"

# Every test run gets its own DDS domain on loopback only, so parallel runs never hear each other.
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 100)))


_DOMAINS = iter(range(int(os.environ["ROS_DOMAIN_ID"]), 10**6))


@pytest.fixture(autouse=True, scope="module")
def _domain_of_its_own():
    """Each test module on its own domain: a node a module left stopping (or its DDS participant,
    until its lease ends) must not feed the next module's cell."""
    old = os.environ["ROS_DOMAIN_ID"]
    os.environ["ROS_DOMAIN_ID"] = str(1 + next(_DOMAINS) % 100)
    yield
    os.environ["ROS_DOMAIN_ID"] = old


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def demo_images() -> Path:
    from waste_sorting import paths

    return paths.demo_images()


@pytest.fixture(scope="session")
def shipped_model() -> Path:
    from waste_sorting import paths

    model = paths.default_model()
    assert model.is_file(), f"the shipped model {model} is missing"
    return model


@pytest.fixture(scope="session")
def trashnet() -> Path:
    if not TRASHNET.is_dir():
        pytest.skip(f"needs the TrashNet training copy at {TRASHNET} (present in CI, absent in a fresh clone)")
    return TRASHNET
