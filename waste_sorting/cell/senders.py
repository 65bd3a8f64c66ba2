"""The two `CommandSender`s: the serial link (live) and the controller's firmware logic (offline)."""

from __future__ import annotations

import time
from collections.abc import Callable

from waste_sorting.protocol.commands import Command
from waste_sorting.protocol.controller import ControllerCore
from waste_sorting.protocol.frames import NAK, Frame, FrameDecoder, MsgType, NakReason, encode_frame
from waste_sorting.protocol.link import CommandResult, ControllerLink, Outcome


class LinkSender:
    """Commands over the serial link; the fire time moves from the cell's clock to the host's."""

    def __init__(self, link: ControllerLink) -> None:
        self.link = link

    @property
    def ready(self) -> bool:
        return self.link.connected and self.link.synced

    def send(self, cmd: Command, fire_time: float, now: float, done: Callable[[CommandResult], None]) -> None:
        self.link.send_timed(cmd, time.monotonic() + fire_time - now, done)


class ControllerSender:
    """Commands straight into the controller's logic, whose clock is the cell's in µs (simulated time).

    Each command goes through the real framing, as on the wire. Like the link, it
    arms the controller while firing is wanted.
    """

    def __init__(self, controller: ControllerCore, armed: bool = True) -> None:
        self.controller = controller
        self.want_armed = armed
        self._seq = 0

    @property
    def ready(self) -> bool:
        return True

    def send(self, cmd: Command, fire_time: float, now: float, done: Callable[[CommandResult], None]) -> None:
        now_us = int(round(now * 1e6))
        if self.want_armed and not self.controller.armed:
            self.controller.handle(Frame(MsgType.ARM, self._next()), now_us)
        seq = self._next()
        wire = encode_frame(Frame(cmd.mtype, seq, cmd.payload(int(round(fire_time * 1e6)))))
        (frame,) = FrameDecoder().feed(wire)
        reply = self.controller.handle(frame, now_us)
        if reply is None:
            done(CommandResult(seq, Outcome.TIMEOUT))
        elif reply[0] == MsgType.ACK:
            done(CommandResult(seq, Outcome.ACKED))
        else:
            _, code = NAK.unpack(reply[2])
            reason = NakReason(code) if code in NakReason._value2member_map_ else None
            done(CommandResult(seq, Outcome.NAKED, reason))

    def _next(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFF
        return self._seq
