"""Video: decode and encode (PyAV), optical flow and its reliability (OpenCV DIS), the temporal loss
and blending, per-frame engines, the warping-error metric, and the resumable ``stylize_video``."""
