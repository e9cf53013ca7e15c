"""The warmup file TF Serving replays, and the exact REST body the client sends, against the prepared model."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest
import tensorflow as tf
from mp_detectors import PREPARE, REPO, SAMPLE, square_image
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

WARMUP = ("assets.extra", "tf_serving_warmup_requests")


def read_warmup(prepared) -> list[prediction_log_pb2.PredictionLog]:
    records = []
    for raw in tf.data.TFRecordDataset(str(prepared.joinpath(*WARMUP))):
        log = prediction_log_pb2.PredictionLog()
        log.ParseFromString(raw.numpy())
        records.append(log)
    return records


def test_warmup_parses_with_tf_serving_protos(prepared):
    records = read_warmup(prepared)
    assert 1 <= len(records) <= 1000  # TF Serving's limit
    sample = SAMPLE.read_bytes()
    for log in records:
        assert log.WhichOneof("log_type") == "predict_log"
        req = log.predict_log.request
        assert req.model_spec.name == "square"
        assert req.model_spec.signature_name == "serving_default"
        assert list(req.inputs) == ["images"]
        assert req.inputs["images"].dtype == tf.string.as_datatype_enum
        assert all(s == sample for s in tf.make_ndarray(req.inputs["images"]).tolist())


def test_warmup_bytes_equal_tf_serving_api_messages():
    # prepare.py encodes the records without tensorflow-serving-api (the TF image lacks it): same bytes.
    import importlib.util

    spec = importlib.util.spec_from_file_location("prepare", PREPARE)
    prepare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prepare)
    images = [b"\xff\xd8abc", b"x" * 300]
    want = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(
            request=predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name="my_model", signature_name="serving_default"),
                inputs={"images": tf.make_tensor_proto(images, dtype=tf.string, shape=[2])},
            )
        )
    )
    assert prepare.warmup_record(tf, "my_model", images) == want.SerializeToString(deterministic=True)


def test_warmup_replays_against_the_model(prepared, prepared_model):
    for log in read_warmup(prepared):
        req = log.predict_log.request
        fn = prepared_model.signatures[req.model_spec.signature_name]
        inputs = {k: tf.make_ndarray(v) for k, v in req.inputs.items()}
        out = fn(**{k: tf.constant(v) for k, v in inputs.items()})
        assert out["detection_boxes"].shape == (len(inputs["images"]), 10, 4)


def tf_serving_decode_instances(body: dict) -> list[bytes]:
    """What TF Serving does with a row-format body for a DT_STRING input: {"b64": s} -> base64-decoded bytes."""
    assert set(body) == {"instances"}
    out = []
    for inst in body["instances"]:
        assert set(inst) == {"b64"}, "a single-input signature takes bare values per instance"
        out.append(base64.b64decode(inst["b64"], validate=True))
    return out


def test_client_request_body_runs_on_the_prepared_model(prepared_model, tmp_path):
    jpeg, jpeg_box = square_image(300, 200, (30, 40, 90, 120), "JPEG")
    png, png_box = square_image(120, 160, (60, 10, 100, 50), "PNG")
    files = [tmp_path / "a.jpg", tmp_path / "b.png"]
    files[0].write_bytes(jpeg)
    files[1].write_bytes(png)
    res = subprocess.run(
        ["npx", "--no-install", "tsx", str(REPO / "tests/python/model_prep/print-predict-body.ts"), *map(str, files)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    images = tf_serving_decode_instances(json.loads(res.stdout))
    assert images == [jpeg, png]
    out = prepared_model.signatures["serving_default"](images=tf.constant(images))
    assert out["detection_boxes"][0, 0].numpy() == pytest.approx(jpeg_box, abs=0.02)
    assert out["detection_boxes"][1, 0].numpy() == pytest.approx(png_box, abs=1e-6)
