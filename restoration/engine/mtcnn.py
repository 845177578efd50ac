"""MTCNN face detector (Zhang et al. 2016) in plain torch: boxes, scores and 5 landmarks.

The three networks and the cascade follow facenet-pytorch (MIT, T. Esler), whose state dicts
(`pnet.pt`, `rnet.pt`, `onet.pt`) we load; NMS is ours (numpy), so no torchvision is needed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from .types import UnavailableError

MTCNN_FILES = ("pnet.pt", "rnet.pt", "onet.pt")


class PNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, 3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, 3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, 3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), F.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, 3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, 3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, 2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        # The weights come from Caffe, which flattens in (W, H, C) order.
        x = x.permute(0, 3, 2, 1).contiguous().flatten(1)
        x = self.prelu4(self.dense4(x))
        return self.dense5_2(x), F.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, 2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).contiguous().flatten(1)
        x = self.prelu5(self.dense5(x))
        return self.dense6_2(x), self.dense6_3(x), F.softmax(self.dense6_1(x), dim=1)


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in image pixels
    score: float
    landmarks: np.ndarray  # 5x2 (x, y): left eye, right eye, nose, left mouth, right mouth

    @property
    def size(self) -> float:
        return max(self.box[2] - self.box[0], self.box[3] - self.box[1])


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, best first. Ties broken by index (stable)."""
    if boxes.size == 0:
        return np.zeros(0, np.int64)
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        denom = np.minimum(area[i], area[rest]) if mode == "min" else area[i] + area[rest] - inter
        order = rest[inter / denom <= threshold]
    return np.asarray(keep, np.int64)


def _square(boxes: np.ndarray) -> np.ndarray:
    boxes = boxes.copy()
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = np.maximum(w, h)
    boxes[:, 0] += w * 0.5 - side * 0.5
    boxes[:, 1] += h * 0.5 - side * 0.5
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def _regress(boxes: np.ndarray, reg: np.ndarray, plus_one: bool = True) -> np.ndarray:
    boxes = boxes.copy()
    extra = 1.0 if plus_one else 0.0
    w = boxes[:, 2] - boxes[:, 0] + extra
    h = boxes[:, 3] - boxes[:, 1] + extra
    boxes[:, 0] += reg[:, 0] * w
    boxes[:, 1] += reg[:, 1] * h
    boxes[:, 2] += reg[:, 2] * w
    boxes[:, 3] += reg[:, 3] * h
    return boxes


class MTCNN:
    """The three-stage cascade. Thresholds and pyramid factor are MTCNN's published defaults."""

    def __init__(self, model_dir: Path, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()
        for net, filename in zip((self.pnet, self.rnet, self.onet), MTCNN_FILES, strict=True):
            path = Path(model_dir) / filename
            if not path.is_file():
                raise UnavailableError(f"MTCNN weights {filename} not found in {model_dir}")
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            net.to(self.device).eval()
        self.thresholds = (0.6, 0.7, 0.7)
        self.factor = 0.709

    @torch.inference_mode()
    def detect(self, image: np.ndarray, min_face: int = 20) -> list[Face]:
        """Faces in an HxWx3 uint8 RGB image, largest first."""
        img = torch.from_numpy(np.array(image, dtype=np.float32)).to(self.device)
        img = img.permute(2, 0, 1).unsqueeze(0)
        h, w = image.shape[:2]
        boxes = self._stage1(img, h, w, min_face)
        if len(boxes):
            boxes = self._stage2(img, boxes, h, w)
        if not len(boxes):
            return []
        boxes, points = self._stage3(img, boxes, h, w)
        faces = [
            Face(tuple(float(v) for v in b[:4]), float(b[4]), p)  # type: ignore[arg-type]
            for b, p in zip(boxes, points, strict=True)
        ]
        return sorted(faces, key=lambda f: (-f.size, f.box))

    def _stage1(self, img: torch.Tensor, h: int, w: int, min_face: int) -> np.ndarray:
        m = 12.0 / min_face
        min_len = min(h, w) * m
        scales = []
        scale = m
        while min_len >= 12:
            scales.append(scale)
            scale *= self.factor
            min_len *= self.factor
        found = []
        for scale in scales:
            data = F.interpolate(img, size=(int(h * scale + 1), int(w * scale + 1)), mode="area")
            reg, prob = self.pnet(_normalise(data))
            cand = _candidates(
                reg[0].cpu().numpy(), prob[0, 1].cpu().numpy(), scale, self.thresholds[0]
            )
            if len(cand):
                found.append(cand[nms(cand[:, :4], cand[:, 4], 0.5)])
        if not found:
            return np.zeros((0, 5), np.float32)
        boxes = np.concatenate(found)
        boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        regressed = _regress(boxes[:, :4], boxes[:, 5:9], plus_one=False)
        return _square(np.concatenate([regressed, boxes[:, 4:5]], axis=1))

    def _crops(
        self, img: torch.Tensor, boxes: np.ndarray, h: int, w: int, size: int
    ) -> torch.Tensor:
        crops = []
        for b in np.trunc(boxes[:, :4]).astype(np.int64):
            x1, y1 = max(int(b[0]), 1), max(int(b[1]), 1)
            x2, y2 = min(int(b[2]), w), min(int(b[3]), h)
            if x2 - x1 + 1 <= 0 or y2 - y1 + 1 <= 0:
                crops.append(torch.zeros((1, 3, size, size), device=img.device))
                continue
            crop = img[:, :, y1 - 1 : y2, x1 - 1 : x2]
            crops.append(F.interpolate(crop, size=(size, size), mode="area"))
        return _normalise(torch.cat(crops))

    def _stage2(self, img: torch.Tensor, boxes: np.ndarray, h: int, w: int) -> np.ndarray:
        reg, prob = self.rnet(self._crops(img, boxes, h, w, 24))
        score = prob[:, 1].cpu().numpy()
        keep = score > self.thresholds[1]
        boxes = np.concatenate([boxes[keep, :4], score[keep, None]], axis=1)
        reg_np = reg.cpu().numpy()[keep]
        picked = nms(boxes[:, :4], boxes[:, 4], 0.7)
        boxes, reg_np = boxes[picked], reg_np[picked]
        boxes[:, :4] = _regress(boxes[:, :4], reg_np)
        return _square(boxes)

    def _stage3(
        self, img: torch.Tensor, boxes: np.ndarray, h: int, w: int
    ) -> tuple[np.ndarray, np.ndarray]:
        reg, marks, prob = self.onet(self._crops(img, boxes, h, w, 48))
        score = prob[:, 1].cpu().numpy()
        keep = score > self.thresholds[2]
        boxes = np.concatenate([boxes[keep, :4], score[keep, None]], axis=1)
        reg_np, marks_np = reg.cpu().numpy()[keep], marks.cpu().numpy()[keep]
        bw = boxes[:, 2] - boxes[:, 0] + 1
        bh = boxes[:, 3] - boxes[:, 1] + 1
        xs = bw[:, None] * marks_np[:, :5] + boxes[:, 0:1] - 1
        ys = bh[:, None] * marks_np[:, 5:10] + boxes[:, 1:2] - 1
        points = np.stack([xs, ys], axis=2)
        boxes[:, :4] = _regress(boxes[:, :4], reg_np)
        picked = nms(boxes[:, :4], boxes[:, 4], 0.7, mode="min")
        return boxes[picked], points[picked]


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - 127.5) * 0.0078125


def _candidates(reg: np.ndarray, prob: np.ndarray, scale: float, threshold: float) -> np.ndarray:
    """PNet output map → candidate boxes [x1, y1, x2, y2, score, reg0..3] in image pixels."""
    stride, cell = 2, 12
    ys, xs = np.nonzero(prob >= threshold)
    if ys.size == 0:
        return np.zeros((0, 9), np.float32)
    q1x = np.floor((stride * xs + 1) / scale)
    q1y = np.floor((stride * ys + 1) / scale)
    q2x = np.floor((stride * xs + cell) / scale)
    q2y = np.floor((stride * ys + cell) / scale)
    return np.stack(
        [
            q1x,
            q1y,
            q2x,
            q2y,
            prob[ys, xs],
            reg[0, ys, xs],
            reg[1, ys, xs],
            reg[2, ys, xs],
            reg[3, ys, xs],
        ],
        axis=1,
    ).astype(np.float32)


_detectors: dict[tuple[str, str], MTCNN] = {}
_lock = threading.Lock()


def get_detector(model_dir: Path, device: str = "cpu") -> MTCNN:
    key = (str(Path(model_dir).resolve()), device)
    with _lock:
        if key not in _detectors:
            _detectors[key] = MTCNN(Path(model_dir), device)
        return _detectors[key]
