#!/usr/bin/env python3
"""Benchmark for model-prep: request size of base64 JPEG vs tensor-as-JSON for the same 640x480 photo, and
latency of the wrapped (bytes) signature vs the raw tensor signature (median of N calls, default 40).

Run: npm run bench:model-prep [-- --calls 50 --json]

The detector is built here (no downloads): a MobileNet-sized convolution stack (6 strided 3x3 convolutions on
the image resized to 320x320, then a dense head for 100 boxes) with the TF Hub detector signature, so the
numbers show the wrapper's overhead (JPEG decode + per-image loop) next to a realistic amount of model work.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
N = 100


class ConvDetector(tf.Module):
    """input_tensor uint8 [1,H,W,3] -> 100 boxes/scores/classes from a small conv net (random weights)."""

    def __init__(self):
        super().__init__()
        rng = tf.random.Generator.from_seed(7)
        chans = [3, 32, 64, 96, 128, 192, 256]
        self.kernels = [
            tf.Variable(rng.normal([3, 3, cin, cout], stddev=(2.0 / (9 * cin)) ** 0.5)) for cin, cout in zip(chans, chans[1:])
        ]
        self.head = tf.Variable(rng.normal([256, N * 6], stddev=0.05))

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.uint8, name="input_tensor")])
    def detect(self, input_tensor):
        x = tf.image.resize(tf.cast(input_tensor, tf.float32) / 255.0, [320, 320])
        for k in self.kernels:
            x = tf.nn.relu(tf.nn.conv2d(x, k, strides=2, padding="SAME"))
        h = tf.reshape(tf.reduce_mean(x, axis=[1, 2]) @ self.head, [1, N, 6])
        yx = tf.sigmoid(h[..., :2]) * 0.5
        boxes = tf.concat([yx, yx + 0.5 * tf.sigmoid(h[..., 2:4])], axis=-1)
        scores = tf.sigmoid(h[..., 4])
        classes = tf.floor(tf.sigmoid(h[..., 5]) * 90.0) + 1.0
        return {
            "detection_boxes": boxes,
            "detection_scores": scores,
            "detection_classes": classes,
            "num_detections": tf.constant([float(N)]),
        }


def photo_640x480() -> tuple[bytes, np.ndarray]:
    img = Image.open(REPO / "samples" / "coffee.jpg").convert("RGB").resize((640, 480), Image.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    jpeg = buf.getvalue()
    # The raw signature gets exactly the pixels the wrapper would decode from this JPEG.
    return jpeg, tf.io.decode_jpeg(jpeg, channels=3).numpy()


def body_sizes(jpeg: bytes, pixels: np.ndarray) -> dict:
    b64_body = json.dumps({"instances": [{"b64": base64.b64encode(jpeg).decode()}]}, separators=(",", ":"))
    tensor_body = json.dumps(
        {"signature_name": "serving_tensor", "instances": [pixels.tolist()]}, separators=(",", ":")
    )
    return {"jpegBytes": len(jpeg), "b64JsonBytes": len(b64_body), "tensorJsonBytes": len(tensor_body)}


def median_ms(*fns, calls: int) -> list[float]:
    """Median latency of each fn; calls interleave (a, b, a, b ...) so load from other processes hits all alike."""
    for fn in fns:
        fn()  # first call traces and allocates: not part of the steady state
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(calls):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            times[i].append((time.perf_counter() - t) * 1000)
    return [statistics.median(t) for t in times]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=40, help="calls per signature (>= 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()
    if args.calls < 20:
        p.error("--calls must be >= 20")

    jpeg, pixels = photo_640x480()
    sizes = body_sizes(jpeg, pixels)
    with tempfile.TemporaryDirectory() as tmp:
        det = ConvDetector()
        src = Path(tmp) / "detector"
        tf.saved_model.save(det, str(src), signatures={"serving_default": det.detect.get_concrete_function()})
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, str(REPO / "model-prep" / "prepare.py"), "--saved-model", str(src), "--out", tmp,
             "--name", "bench", "--version", "1"],
            check=True,
            capture_output=True,
        )
        prepare_s = time.perf_counter() - t
        model = tf.saved_model.load(str(Path(tmp) / "bench" / "1"))
        wrapped = model.signatures["serving_default"]
        raw = model.signatures["serving_tensor"]
        images = tf.constant([jpeg])
        tensor = tf.constant(pixels[np.newaxis])
        batch4 = tf.constant([jpeg] * 4)
        wrapped_ms, raw_ms, decode_ms, batch4_ms = median_ms(
            lambda: wrapped(images=images),
            lambda: raw(input_tensor=tensor),
            lambda: tf.io.decode_jpeg(jpeg, channels=3),
            lambda: wrapped(images=batch4),
            calls=args.calls,
        )

    result = {
        **sizes,
        "tensorToB64Ratio": round(sizes["tensorJsonBytes"] / sizes["b64JsonBytes"], 1),
        "calls": args.calls,
        "wrappedMedianMs": round(wrapped_ms, 2),
        "rawMedianMs": round(raw_ms, 2),
        "wrapperOverheadMs": round(wrapped_ms - raw_ms, 2),
        "jpegDecodeMedianMs": round(decode_ms, 2),
        "wrappedBatch4MedianMs": round(batch4_ms, 2),
        "prepareSeconds": round(prepare_s, 2),
        "tensorflow": tf.__version__,
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    kib = lambda n: f"{n / 1024:,.1f} KiB"  # noqa: E731
    print("model-prep benchmark (640x480 photo, samples/coffee.jpg resized, JPEG q90)")
    print(f"  request body, base64 JPEG (serving_default)   {kib(sizes['b64JsonBytes']):>14}")
    print(f"  request body, tensor as JSON (serving_tensor) {kib(sizes['tensorJsonBytes']):>14}"
          f"   ({result['tensorToB64Ratio']}x larger)")
    print(f"  latency, wrapped signature (bytes in)         {wrapped_ms:>10.2f} ms  median of {args.calls}")
    print(f"  latency, raw tensor signature                 {raw_ms:>10.2f} ms  median of {args.calls}")
    print(f"  wrapper overhead (decode + per-image loop)    {wrapped_ms - raw_ms:>10.2f} ms"
          f"   (JPEG decode alone {decode_ms:.2f} ms)")
    print(f"  wrapped, batch of 4 images                    {batch4_ms:>10.2f} ms")
    print(f"  prepare.py run (load, export, warmup, verify) {prepare_s:>10.2f} s")
    print(f"  TensorFlow {tf.__version__}, {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
