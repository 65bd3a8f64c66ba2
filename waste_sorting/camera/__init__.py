"""Where the camera driver's frames come from: a device, a video, an image folder, the simulator."""

from waste_sorting.camera.sources import CaptureSource, FrameSource, ImageFolderSource, SimSource

__all__ = ["CaptureSource", "FrameSource", "ImageFolderSource", "SimSource"]
