"""Frame sources for the camera driver: simulated belt, video file, image folder, device."""
