"""What a real detector's inference costs on this machine, as a stand-in for one replica's compute: Keras
MobileNetV2 (the backbone of ssd_mobilenet_v2; random weights, as no model can be downloaded here) at 320x320,
batch 1, in the project's TensorFlow with the CPU threads a 2-vCPU replica has. The TF Serving stand-in's toy
detector (scripts/bench-replica.ts) measures the serving path's own ceiling; this measures the model's share.
Run: .venv/bin/python scripts/bench-replica-backbone.py [rounds] [calls per round]
"""

import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
calls = int(sys.argv[2]) if len(sys.argv) > 2 else 20
tf.config.threading.set_intra_op_parallelism_threads(2)
tf.config.threading.set_inter_op_parallelism_threads(2)
model = tf.keras.applications.MobileNetV2(input_shape=(320, 320, 3), weights=None, include_top=False)
infer = tf.function(lambda x: model(x, training=False))
image = tf.constant(np.random.default_rng(0).random((1, 320, 320, 3), dtype=np.float32))
for _ in range(5):
    infer(image)  # graph build and warmup, not measured
per_round = []
for r in range(rounds):
    t0 = time.perf_counter()
    for _ in range(calls):
        infer(image).numpy()
    ms = (time.perf_counter() - t0) / calls * 1000
    per_round.append(ms)
    print(f"round {r + 1}: {ms:.1f} ms per image ({1000 / ms:.1f} images/s)", flush=True)
med = statistics.median(per_round)
print(f"median {med:.1f} ms per image = {1000 / med:.1f} req/s = {60000 / med:.0f} requests/min per replica (backbone only)")
