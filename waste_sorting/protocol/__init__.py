"""Serial protocol between the actuator node and the valve controller / robot interface."""
