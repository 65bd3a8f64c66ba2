"""Thin rclpy adapters: message conversion, parameter declaration, diagnostics."""
