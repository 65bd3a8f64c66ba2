"""The serial protocol to the valve controller: framing, the host's link, the controller's logic and its
emulator on a pseudo-terminal."""

from waste_sorting.protocol.commands import Command
from waste_sorting.protocol.controller import ControllerCore, Pulse
from waste_sorting.protocol.emulator import ControllerEmulator, EmulatorProcess, Faults
from waste_sorting.protocol.frames import Frame, FrameDecoder, MsgType, NakReason, encode_frame
from waste_sorting.protocol.link import CommandResult, ControllerLink, LinkConfig, Outcome

__all__ = [
    "Command",
    "CommandResult",
    "ControllerCore",
    "ControllerEmulator",
    "ControllerLink",
    "EmulatorProcess",
    "Faults",
    "Frame",
    "FrameDecoder",
    "LinkConfig",
    "MsgType",
    "NakReason",
    "Outcome",
    "Pulse",
    "encode_frame",
]
