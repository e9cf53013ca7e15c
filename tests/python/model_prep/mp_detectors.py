"""Small real detectors with the TF Hub signature, images with a red square, and a prepare.py runner.

The detector finds a red square by thresholding and returns its normalised box, so every test can check
that the wrapped model looked at the right image. It asserts batch size 1, like the real TF2 detectors.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
PREPARE = REPO / "model-prep" / "prepare.py"
SAMPLE = REPO / "samples" / "astronaut.jpg"
RED_CLASS = 18.0  # COCO "dog": any id works, a non-1 value proves classes pass through


class SquareDetector(tf.Module):
    """input_tensor uint8 [1,H,W,3] -> the box of the red pixels, padded to `rows` detections."""

    def __init__(self, rows: int):
        super().__init__()
        self.rows = rows
        # A real variable, so the test also proves the wrapped export carries the detector's weights.
        self.score = tf.Variable(0.9, dtype=tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, name="input_tensor")])
    def detect(self, input_tensor):
        tf.debugging.assert_equal(tf.shape(input_tensor)[0], 1, message="this detector takes batch size 1")
        img = tf.cast(input_tensor[0], tf.int32)
        mask = (img[..., 0] > 150) & (img[..., 1] < 100) & (img[..., 2] < 100)
        h = tf.cast(tf.shape(img)[0], tf.float32)
        w = tf.cast(tf.shape(img)[1], tf.float32)
        rows = tf.cast(tf.where(tf.reduce_any(mask, axis=1))[:, 0], tf.float32)
        cols = tf.cast(tf.where(tf.reduce_any(mask, axis=0))[:, 0], tf.float32)
        found = tf.size(rows) > 0
        box = tf.cond(
            found,
            lambda: tf.stack(
                [tf.reduce_min(rows) / h, tf.reduce_min(cols) / w, (tf.reduce_max(rows) + 1) / h, (tf.reduce_max(cols) + 1) / w]
            ),
            lambda: tf.zeros([4]),
        )
        pad = self.rows - 1
        boxes = tf.concat([box[tf.newaxis], tf.zeros([pad, 4])], 0)[tf.newaxis]
        first = tf.where(found, self.score, 0.0)
        scores = tf.concat([first[tf.newaxis], tf.zeros([pad])], 0)[tf.newaxis]
        classes = tf.concat([tf.constant([RED_CLASS]), tf.ones([pad])], 0)[tf.newaxis]
        num = tf.where(found, 1.0, 0.0)[tf.newaxis]
        return {
            "detection_boxes": boxes,
            "detection_scores": scores,
            "detection_classes": classes,
            "num_detections": num,
            # Real detectors return more outputs; the wrapper must ignore them.
            "raw_detection_scores": tf.zeros([1, 7, 91]),
        }


class Classifier(tf.Module):
    """Not a detector: float images in, logits out."""

    def __init__(self):
        super().__init__()
        self.w = tf.Variable(tf.ones([3, 5]))

    @tf.function(input_signature=[tf.TensorSpec([None, 224, 224, 3], tf.float32, name="x")])
    def classify(self, x):
        return {"logits": tf.reduce_mean(x, axis=[1, 2]) @ self.w}


def save_detector(path: Path, rows: int) -> Path:
    det = SquareDetector(rows)
    tf.saved_model.save(det, str(path), signatures={"serving_default": det.detect.get_concrete_function()})
    return path


def square_image(width: int, height: int, box: tuple[int, int, int, int], fmt: str) -> tuple[bytes, list[float]]:
    """An image with a red square at pixel box (x0, y0, x1, y1) on a grey-green background; its normalised box."""
    arr = np.zeros((height, width, 3), np.uint8)
    arr[...] = (40, 120, 60)
    x0, y0, x1, y1 = box
    arr[y0:y1, x0:x1] = (230, 20, 20)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue(), [y0 / height, x0 / width, y1 / height, x1 / width]


def run_prepare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PREPARE), *args], capture_output=True, text=True, timeout=300, check=False
    )


