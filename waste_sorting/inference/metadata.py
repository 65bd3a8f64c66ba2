"""Model metadata: the sidecar JSON beside every ONNX file (and its ONNX metadata copy).

Class names, input size and normalisation come from here, never from code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from waste_sorting.errors import ModelError


def sidecar_path(onnx_path: Path) -> Path:
    return onnx_path.with_suffix(".json")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class ModelMetadata:
    classes: list[str]
    input_size: int
    mean: list[float]
    std: list[float]
    architecture: dict[str, Any] = field(default_factory=dict)
    input_name: str = "input"
    output_name: str = "logits"
    weights: str = "fp32"
    precision: str = "fp32"
    training: dict[str, Any] = field(default_factory=dict)
    accuracy: dict[str, Any] = field(default_factory=dict)

    def onnx_properties(self) -> dict[str, str]:
        return {"waste_sorting": json.dumps(asdict(self))}

    def write(self, path: Path, onnx_path: Path | None = None) -> None:
        data = asdict(self)
        if onnx_path is not None:
            data["onnx_sha256"] = file_sha256(onnx_path)
            data["onnx_bytes"] = onnx_path.stat().st_size
        path.write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMetadata:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        missing = {"classes", "input_size", "mean", "std"} - known.keys()
        if missing:
            raise ModelError(f"model metadata lacks {sorted(missing)}")
        return cls(**known)

    @classmethod
    def for_model(cls, onnx_path: Path) -> ModelMetadata:
        """Read the sidecar JSON, or the copy embedded in the ONNX file when it is missing."""
        side = sidecar_path(onnx_path)
        if not Path(onnx_path).is_file():
            raise ModelError(f"model file not found: {onnx_path} (the shipped one is models/waste_cbam18.onnx)")
        try:
            if side.exists():
                return cls.from_dict(json.loads(side.read_text()))
            import onnx

            model = onnx.load(str(onnx_path), load_external_data=False)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - JSON, protobuf DecodeError, I/O: all one answer
            what = side.name if side.exists() else "the ONNX file"
            raise ModelError(f"{onnx_path}: cannot read {what} ({type(exc).__name__}); is it a model "
                             "exported by `waste-sorting export` or `adapt`?") from None
        for prop in model.metadata_props:
            if prop.key == "waste_sorting":
                return cls.from_dict(json.loads(prop.value))
        raise ModelError(f"{onnx_path}: no sidecar {side.name} and no embedded waste_sorting metadata")
