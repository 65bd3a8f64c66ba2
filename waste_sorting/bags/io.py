"""Bag writing and reading with real ROS 2 (CDR) serialization.

Messages are serialized by rclpy itself (``serialize_message``), exactly as a
ROS 2 publisher puts them on the wire and `ros2 bag record` stores them; the
`rosbags` library writes the rosbag2 container (MCAP by default, sqlite3 on
request) with the message definitions, so `ros2 bag play` reads the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode
from rosbags.typesys import Stores, get_typestore

from waste_sorting.errors import BagError

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
TYPESTORE = get_typestore(Stores.ROS2_JAZZY)


def msgtype_of(msg_or_class: Any) -> str:
    """'sensor_msgs/msg/Image' for an rclpy message (or its class)."""
    cls = msg_or_class if isinstance(msg_or_class, type) else type(msg_or_class)
    package = cls.__module__.split(".")[0]
    return f"{package}/msg/{cls.__name__}"


def message_class(msgtype: str) -> type:
    """The rclpy message class for 'pkg/msg/Name'."""
    import importlib

    parts = msgtype.split("/")
    if len(parts) != 3 or parts[1] != "msg":
        raise ValueError(f"not a message type name: {msgtype!r}")
    try:
        return getattr(importlib.import_module(f"{parts[0]}.msg"), parts[2])
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"message type {msgtype} is not installed") from exc


class BagWriter:
    def __init__(self, path: Path, storage: str = "mcap", compress: bool = False) -> None:
        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {sorted(STORAGES)}")
        if Path(path).exists():
            raise FileExistsError(f"{path} exists; choose a new bag path")
        self._writer = Writer(path, version=9, storage_plugin=STORAGES[storage])
        if compress:
            self._writer.set_compression(CompressionMode.MESSAGE, CompressionFormat.ZSTD)
        self._writer.open()
        self._connections: dict[str, Any] = {}

    def write(self, topic: str, msg: Any, t_ns: int) -> None:
        from rclpy.serialization import serialize_message

        self.write_raw(topic, msgtype_of(msg), serialize_message(msg), t_ns)

    def write_typed(self, topic: str, msg: Any, t_ns: int) -> None:
        """Write a rosbags typestore message (see ``waste_sorting.bags.messages``)."""
        self.write_raw(topic, msg.__msgtype__, bytes(TYPESTORE.serialize_cdr(msg, msg.__msgtype__)), t_ns)

    def set_custom_data(self, key: str, value: str) -> None:
        self._writer.set_custom_data(key, value)

    def write_raw(self, topic: str, msgtype: str, data: bytes, t_ns: int) -> None:
        conn = self._connections.get(topic)
        if conn is None:
            conn = self._writer.add_connection(topic, msgtype, typestore=TYPESTORE)
            self._connections[topic] = conn
        self._writer.write(conn, t_ns, data)

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> BagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str
    t_ns: int
    data: bytes

    def decode(self) -> Any:
        """The message as rosbags' class (no ROS needed): what the offline tools read."""
        return TYPESTORE.deserialize_cdr(self.data, self.msgtype)

    def deserialize(self) -> Any:
        """The message as rclpy's class, to publish it (replay)."""
        from rclpy.serialization import deserialize_message

        return deserialize_message(self.data, message_class(self.msgtype))


STORAGE_SUFFIXES = (".mcap", ".db3")  # the storage files rosbags reads without a metadata.yaml


def storage_path(path: Path) -> Path:
    """What to open for ``path``: a rosbag2 folder, a bare ``.mcap``/``.db3`` file (what other writers
    such as Foxglove's leave), or the one storage file of a folder that lost its metadata.yaml."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"{path}: no such bag (give the rosbag2 folder, or a .mcap or .db3 file)")
    if path.is_file():
        if path.suffix in STORAGE_SUFFIXES:
            return path
        raise BagError(f"{path}: a file, not a bag (a rosbag2 bag is a folder holding metadata.yaml and "
                       "its storage files, or a single .mcap or .db3 file)")
    if (path / "metadata.yaml").is_file():
        return path
    files = sorted(p for p in path.iterdir() if p.suffix in STORAGE_SUFFIXES)
    if len(files) == 1:
        return files[0]
    what = "no storage file" if not files else f"{len(files)} storage files and no metadata.yaml to order them"
    raise BagError(f"{path}: not a readable rosbag2 bag (no metadata.yaml, {what}; "
                   "`ros2 bag reindex` rebuilds a lost metadata.yaml)")


def bag_name(path: Path) -> str:
    """A bag's name: its folder's, or a bare storage file's without the suffix."""
    path = Path(path)
    return path.stem if path.suffix in STORAGE_SUFFIXES and path.is_file() else path.name


@contextmanager
def open_bag(path: Path) -> Iterator[Reader]:
    """A rosbag2 reader, or a BagError that says what ``path`` is instead of a bag."""
    path = Path(path)
    try:
        reader = Reader(storage_path(path))
        reader.open()
    except (ReaderError, OSError, ValueError, KeyError, IndexError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BagError(f"{path}: not a readable rosbag2 bag ({why})") from None
    try:
        yield reader
    finally:
        reader.close()


def topics(path: Path) -> dict[str, str]:
    """Topic -> message type of a bag."""
    with open_bag(path) as reader:
        return {c.topic: c.msgtype for c in reader.connections}


def message_counts(path: Path) -> dict[str, int]:
    """Topic -> number of messages (what a progress bar needs before reading)."""
    with open_bag(path) as reader:
        return {t: info.msgcount for t, info in reader.topics.items()}


def custom_data(path: Path) -> dict[str, str]:
    """The bag's custom metadata (rosbag2 metadata version 6 and later; empty before)."""
    with open_bag(path) as reader:
        return dict(reader.storage.metadata.custom or {}) if hasattr(reader, "storage") else {}


def truth_class_names(path: Path) -> list[str] | None:
    """The class names a simulated bag's ground-truth ids refer to (its custom metadata), if it says."""
    import json

    raw = custom_data(path).get("waste_sorting.sim")
    classes = json.loads(raw).get("classes") if raw else None
    return list(classes) if classes else None


def read(path: Path, only: Iterable[str] | None = None) -> Iterator[BagMessage]:
    """Messages in time order, optionally only some topics."""
    wanted = set(only) if only is not None else None
    with open_bag(path) as reader:
        conns = [c for c in reader.connections if wanted is None or c.topic in wanted]
        if not conns and wanted is not None:  # rosbags reads an empty list as "every topic"
            return
        for conn, t_ns, data in reader.messages(connections=conns):
            yield BagMessage(conn.topic, conn.msgtype, t_ns, bytes(data))


def image_frames(path: Path, topic: str, seconds: float = 0.0) -> Iterator[Any]:
    """BGR frames of a bag's image topic (Image or CompressedImage), the first ``seconds`` of it (0: all)."""
    from waste_sorting.cell.messages import image_to_bgr, to_sec

    if topic not in topics(path):
        raise BagError(f"{path}: no topic {topic}; it has {', '.join(sorted(topics(path)))}")
    first: float | None = None
    for m in read(path, [topic]):
        msg = m.decode()
        stamp = to_sec(msg.header.stamp)
        first = stamp if first is None else first
        if seconds > 0 and stamp - first > seconds:
            return
        try:
            yield image_to_bgr(msg)
        except ValueError:
            continue
