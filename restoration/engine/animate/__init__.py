"""Portrait animation (`animate`): dense landmarks, a timeline of poses, drivers, the label.

Synthetic media, not restoration: see DESIGN.md "Synthetic media says so" and `op.py`.
"""

from .driver import Driver, LandmarkDriver
from .landmarks import FaceLandmarks, LandmarkDetector, detect_landmarks
from .op import Animate, Animation
from .timeline import FramePose, Timeline, build_timeline

__all__ = [
    "Animate",
    "Animation",
    "Driver",
    "FaceLandmarks",
    "FramePose",
    "LandmarkDetector",
    "LandmarkDriver",
    "Timeline",
    "build_timeline",
    "detect_landmarks",
]
