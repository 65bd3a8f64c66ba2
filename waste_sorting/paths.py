"""Where the package's data lives: the ament share folder when installed, else the repository."""

from __future__ import annotations

from pathlib import Path

PACKAGE = "waste_sorting"
DEFAULT_MODEL_NAME = "waste_cbam18.onnx"


def share_dir() -> Path:
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

        try:
            return Path(get_package_share_directory(PACKAGE))
        except (PackageNotFoundError, ValueError, LookupError, OSError):
            pass
    except ImportError:
        pass
    return Path(__file__).resolve().parent.parent  # a source checkout


def default_model() -> Path:
    return share_dir() / "models" / DEFAULT_MODEL_NAME


def default_params_file() -> Path:
    return share_dir() / "config" / "sorting_cell.yaml"


def demo_images() -> Path:
    """The small demo image set shipped inside the Python package (never trained on)."""
    return Path(__file__).resolve().parent / "demo_images"


def resolve(path: str, default: Path) -> Path:
    """'' means the default; relative paths are taken from the share folder if not found as given."""
    if not path:
        return default
    p = Path(path).expanduser()
    if p.exists() or p.is_absolute():
        return p
    candidate = share_dir() / p
    return candidate if candidate.exists() else p
