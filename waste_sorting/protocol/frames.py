"""Binary framing: SOF, length, sequence, type, payload, CRC-16/CCITT-FALSE.

::

    +------+------+--------+--------+------+-------------+--------+
    | 0xA5 | 0x5A | len u8 | seq u16| type | payload     | crc u16|
    +------+------+--------+--------+------+-------------+--------+

All integers little-endian. ``len`` is the payload length (0..MAX_PAYLOAD).
The CRC covers len, seq, type and payload. A decoder that meets a bad CRC, an
unknown type or a wrong payload size drops one byte and hunts for the next
SOF, so garbage and partial frames never wedge the stream.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

SOF = b"\xa5\x5a"
HEADER = struct.Struct("<BHB")  # len, seq, type
CRC = struct.Struct("<H")
MAX_PAYLOAD = 64


class MsgType(IntEnum):
    PING = 0x01       # host -> ctrl: host_time_us u64
    PONG = 0x02       # ctrl -> host: host_time_us u64 (echo), ctrl_time_us u64, boot_id u32
    HEARTBEAT = 0x03  # host -> ctrl: no payload; ctrl answers ACK
    FIRE = 0x10       # host -> ctrl: see FIRE
    PICK = 0x11       # host -> ctrl: see PICK
    STOP = 0x20       # host -> ctrl: close all valves, cancel pending, refuse FIRE
    ARM = 0x21        # host -> ctrl: accept FIRE again
    ACK = 0x80        # ctrl -> host: acked seq u16, state u8
    NAK = 0x81        # ctrl -> host: refused seq u16, NakReason u8
    HELLO = 0x90      # ctrl -> host, after (re)boot: boot_id u32


class NakReason(IntEnum):
    BAD_FRAME = 1
    DISARMED = 2
    TOO_LATE = 3
    BAD_VALVES = 4
    QUEUE_FULL = 5
    UNKNOWN_TYPE = 6


#: ejector u8, valve_first u8, valve_count u8, fire_at_us u64 (controller clock), duration_us u32, item u32
FIRE = struct.Struct("<BBBQII")
#: ejector u8, x_m f32, y_m f32, pick_at_us u64, item u32
PICK = struct.Struct("<BffQI")
PING = struct.Struct("<Q")
PONG = struct.Struct("<QQI")
ACK = struct.Struct("<HB")
NAK = struct.Struct("<HB")
HELLO = struct.Struct("<I")

PAYLOAD_SIZE: dict[MsgType, int] = {
    MsgType.PING: PING.size, MsgType.PONG: PONG.size, MsgType.HEARTBEAT: 0,
    MsgType.FIRE: FIRE.size, MsgType.PICK: PICK.size, MsgType.STOP: 0, MsgType.ARM: 0,
    MsgType.ACK: ACK.size, MsgType.NAK: NAK.size, MsgType.HELLO: HELLO.size,
}


def crc16_ccitt(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): check value 0x29B1 for b'123456789'."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


_CRC_TABLE = [crc16_ccitt(bytes([i]), 0) for i in range(256)]


def crc16(data: bytes) -> int:
    """Table-driven CRC-16/CCITT-FALSE."""
    crc = 0xFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


@dataclass(frozen=True)
class Frame:
    type: MsgType
    seq: int
    payload: bytes = b""


def encode_frame(frame: Frame) -> bytes:
    expected = PAYLOAD_SIZE[frame.type]
    if len(frame.payload) != expected:
        raise ValueError(f"{frame.type.name} payload must be {expected} bytes, got {len(frame.payload)}")
    body = HEADER.pack(len(frame.payload), frame.seq & 0xFFFF, int(frame.type)) + frame.payload
    return SOF + body + CRC.pack(crc16(body))


@dataclass
class DecoderStats:
    frames: int = 0
    crc_errors: int = 0
    bad_frames: int = 0
    skipped_bytes: int = 0


@dataclass
class FrameDecoder:
    """Incremental decoder: feed any byte chunks, get whole valid frames back."""

    buffer: bytearray = field(default_factory=bytearray)
    stats: DecoderStats = field(default_factory=DecoderStats)

    def feed(self, data: bytes) -> list[Frame]:
        self.buffer.extend(data)
        frames: list[Frame] = []
        buf = self.buffer
        while True:
            start = buf.find(SOF)
            if start < 0:
                # Keep a trailing 0xA5: it may be the first half of the next SOF.
                keep = 1 if buf[-1:] == SOF[:1] else 0
                self.stats.skipped_bytes += len(buf) - keep
                del buf[: len(buf) - keep]
                break
            if start:
                self.stats.skipped_bytes += start
                del buf[:start]
            if len(buf) < 2 + HEADER.size:
                break
            length, seq, mtype = HEADER.unpack_from(buf, 2)
            if length > MAX_PAYLOAD:
                self._drop_one(bad=True)
                continue
            total = 2 + HEADER.size + length + CRC.size
            if len(buf) < total:
                break
            body = bytes(buf[2: 2 + HEADER.size + length])
            (crc,) = CRC.unpack_from(buf, 2 + HEADER.size + length)
            if crc != crc16(body):
                self.stats.crc_errors += 1
                self._drop_one()
                continue
            try:
                kind = MsgType(mtype)
            except ValueError:
                self._drop_one(bad=True)
                continue
            if PAYLOAD_SIZE[kind] != length:
                self._drop_one(bad=True)
                continue
            del buf[:total]
            self.stats.frames += 1
            frames.append(Frame(kind, seq, body[HEADER.size:]))
        return frames

    def _drop_one(self, bad: bool = False) -> None:
        if bad:
            self.stats.bad_frames += 1
        self.stats.skipped_bytes += 1
        del self.buffer[:1]
