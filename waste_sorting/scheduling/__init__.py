"""When and how to fire: ejector geometry and pulse plans, commands from pick requests, amendments."""

from waste_sorting.scheduling.amendments import Amend, PulseBook
from waste_sorting.scheduling.commands import command_for
from waste_sorting.scheduling.ejection import EjectorGeometry, PulsePlan, plan_pulse

__all__ = ["Amend", "EjectorGeometry", "PulseBook", "PulsePlan", "command_for", "plan_pulse"]
