"""prepare.py's detector check, in-process: each kind of wrong signature is named in the error."""

from __future__ import annotations

import importlib.util

import pytest
import tensorflow as tf
from mp_detectors import PREPARE

spec = importlib.util.spec_from_file_location("prepare_mod", PREPARE)
prepare = importlib.util.module_from_spec(spec)
spec.loader.exec_module(prepare)

OUTS = {
    "detection_boxes": lambda: tf.zeros([1, 5, 4]),
    "detection_scores": lambda: tf.zeros([1, 5]),
    "detection_classes": lambda: tf.zeros([1, 5]),
    "num_detections": lambda: tf.zeros([1]),
}


def save(tmp_path, input_spec, outputs=tuple(OUTS), signature="serving_default"):
    module = tf.Module()

    @tf.function(input_signature=[input_spec])
    def fn(x):
        return {k: OUTS[k]() + tf.cast(tf.reduce_sum(tf.zeros_like(x)), tf.float32) for k in outputs}

    module.fn = fn
    path = tmp_path / "m"
    tf.saved_model.save(module, str(path), signatures={signature: fn.get_concrete_function()})
    return tf.saved_model.load(str(path))


def check_error(loaded) -> str:
    with pytest.raises(prepare.PrepareError) as info:
        prepare.check_detector(loaded)
    assert info.value.exit_code == 13
    return str(info.value)


def test_accepts_the_tf_hub_signature_and_reads_n(tmp_path):
    loaded = save(tmp_path, tf.TensorSpec([1, None, None, 3], tf.uint8, name="input_tensor"))
    _, input_name, n = prepare.check_detector(loaded)
    assert input_name == "input_tensor"
    assert n == 5


def test_float_input_is_refused(tmp_path):
    msg = check_error(save(tmp_path, tf.TensorSpec([1, None, None, 3], tf.float32, name="input_tensor")))
    assert "found inputs {input_tensor: float32 [1, None, None, 3]}" in msg


def test_batch_of_grey_images_is_refused(tmp_path):
    msg = check_error(save(tmp_path, tf.TensorSpec([1, None, None, 1], tf.uint8, name="input_tensor")))
    assert "input_tensor: uint8 [1, None, None, 1]" in msg


def test_missing_output_is_named(tmp_path):
    loaded = save(
        tmp_path,
        tf.TensorSpec([1, None, None, 3], tf.uint8, name="input_tensor"),
        outputs=("detection_boxes", "detection_scores"),
    )
    msg = check_error(loaded)
    assert "-> outputs {detection_boxes, detection_scores}" in msg
    assert "outputs detection_boxes, detection_scores, detection_classes, num_detections" in msg


def test_no_serving_default_lists_the_signatures(tmp_path):
    loaded = save(tmp_path, tf.TensorSpec([1, None, None, 3], tf.uint8, name="input_tensor"), signature="detect")
    assert "found signatures: detect" in check_error(loaded)


def test_more_rows_than_n_are_cut_and_num_detections_clamped(detector_dir):
    from mp_detectors import square_image

    loaded = tf.saved_model.load(str(detector_dir))  # 10 rows per image
    fn, input_name, _ = prepare.check_detector(loaded)
    serve = prepare.build_serving_fn(tf, fn, input_name, 3)
    png, want = square_image(40, 40, (4, 8, 20, 30), "PNG")
    out = serve(tf.constant([png, png]))
    assert out["detection_boxes"].shape == (2, 3, 4)
    assert out["detection_classes"].shape == (2, 3)
    assert out["detection_boxes"][1, 0].numpy() == pytest.approx(want, abs=1e-6)
    assert out["num_detections"].numpy().tolist() == [1.0, 1.0]

    # A detector that claims all 10 rows: the count is clamped to the 3 rows kept.
    def claims_ten(**kwargs):
        res = dict(fn(**kwargs))
        res["num_detections"] = tf.constant([10.0])
        return res

    out = prepare.build_serving_fn(tf, claims_ten, input_name, 3)(tf.constant([png]))
    assert out["num_detections"].numpy().tolist() == [3.0]


def test_leftovers_with_our_own_pid_are_stale(tmp_path):
    # In a container every run is pid 1: a leftover with our pid cannot be a live run.
    import os

    (tmp_path / f".staging-1-{os.getpid()}").mkdir()
    (tmp_path / f".old-2-{os.getpid()}").mkdir()
    (tmp_path / ".staging-3-1").mkdir()  # pid 1 is alive here (init): another run's, left alone
    prepare.clean_stale(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".staging-3-1", "2"]
