"""Conveyor tracking: belt odometry, data association, class fusion, pick decisions."""
