"""The wrapped model: encoded images in one batch, each detected on its own; errors are InvalidArgument."""

from __future__ import annotations

import pytest
import tensorflow as tf
from mp_detectors import RED_CLASS, SAMPLE, run_prepare, save_detector, square_image

TOLERANCE = 0.02  # JPEG blurs the square's edge by a pixel or so


def detect(model, images: list[bytes]):
    return model.signatures["serving_default"](images=tf.constant(images))


def test_signature_is_bytes_in_detections_out(prepared_model):
    sig = prepared_model.signatures["serving_default"]
    _, kwargs = sig.structured_input_signature
    assert list(kwargs) == ["images"]
    assert kwargs["images"].dtype == tf.string
    assert kwargs["images"].shape.as_list() == [None]
    assert sorted(sig.structured_outputs) == [
        "detection_boxes",
        "detection_classes",
        "detection_scores",
        "num_detections",
    ]
    for name in sig.structured_outputs:
        assert sig.structured_outputs[name].dtype == tf.float32


def test_jpeg_and_png_of_different_sizes_in_one_batch(prepared_model):
    jpeg, jpeg_box = square_image(320, 240, (40, 30, 120, 110), "JPEG")
    png, png_box = square_image(200, 300, (150, 200, 190, 280), "PNG")
    out = detect(prepared_model, [jpeg, png, jpeg])

    assert out["detection_boxes"].shape == (3, 10, 4)
    assert out["detection_scores"].shape == (3, 10)
    assert out["detection_classes"].shape == (3, 10)
    assert out["num_detections"].numpy().tolist() == [1.0, 1.0, 1.0]
    for i, want in enumerate([jpeg_box, png_box, jpeg_box]):
        assert out["detection_boxes"][i, 0].numpy() == pytest.approx(want, abs=TOLERANCE)
        assert out["detection_scores"][i, 0].numpy() == pytest.approx(0.9)
        assert out["detection_classes"][i, 0].numpy() == RED_CLASS


def test_image_without_the_object_detects_nothing(prepared_model):
    empty, _ = square_image(64, 48, (0, 0, 0, 0), "PNG")
    out = detect(prepared_model, [empty])
    assert out["num_detections"].numpy().tolist() == [0.0]
    assert out["detection_scores"][0, 0].numpy() == 0.0


def test_grey_and_rgba_png_decode_to_rgb(prepared_model):
    import io

    import numpy as np
    from PIL import Image

    rgba = np.zeros((50, 80, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[10:20, 40:60] = (230, 20, 20, 255)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    grey = io.BytesIO()
    Image.fromarray(np.full((30, 30), 128, np.uint8), "L").save(grey, format="PNG")
    out = detect(prepared_model, [buf.getvalue(), grey.getvalue()])
    assert out["detection_boxes"][0, 0].numpy() == pytest.approx([10 / 50, 40 / 80, 20 / 50, 60 / 80], abs=1e-6)
    assert out["num_detections"].numpy().tolist() == [1.0, 0.0]


def test_empty_batch_returns_empty_outputs(prepared_model):
    out = prepared_model.signatures["serving_default"](images=tf.constant([], dtype=tf.string))
    assert out["detection_boxes"].shape == (0, 10, 4)


@pytest.mark.parametrize(
    "bad",
    [b"this is not an image", b"", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"],
    ids=["text", "empty", "truncated-jpeg", "truncated-png"],
)
def test_corrupt_bytes_raise_invalid_argument(prepared_model, bad):
    good, _ = square_image(32, 32, (4, 4, 8, 8), "PNG")
    with pytest.raises(tf.errors.InvalidArgumentError):
        detect(prepared_model, [good, bad])


def test_kept_tensor_signature_still_answers(prepared_model):
    import io

    import numpy as np
    from PIL import Image

    png, want = square_image(100, 80, (10, 20, 50, 60), "PNG")
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))[np.newaxis]
    out = prepared_model.signatures["serving_tensor"](input_tensor=tf.constant(pixels, tf.uint8))
    assert out["detection_boxes"][0, 0].numpy() == pytest.approx(want, abs=1e-6)
    assert out["num_detections"].numpy().tolist() == [1.0]
    # Same answer through the bytes signature.
    wrapped = detect(prepared_model, [png])
    assert wrapped["detection_boxes"][0, 0].numpy() == pytest.approx(want, abs=1e-6)


def test_fewer_rows_than_n_are_padded(tmp_path):
    det = save_detector(tmp_path / "det3", rows=3)
    res = run_prepare("--saved-model", str(det), "--out", str(tmp_path / "m"), "--name", "pad", "--max-detections", "5")
    assert res.returncode == 0, res.stderr
    model = tf.saved_model.load(str(tmp_path / "m" / "pad" / "1"))
    png, want = square_image(60, 40, (5, 5, 25, 15), "PNG")
    out = detect(model, [png, SAMPLE.read_bytes()])
    assert out["detection_boxes"].shape == (2, 5, 4)
    assert out["detection_boxes"][0, 0].numpy() == pytest.approx(want, abs=1e-6)
    # Rows 3 and 4 are padding: zero boxes and scores.
    assert out["detection_scores"][0, 3:].numpy().tolist() == [0.0, 0.0]
    assert out["detection_boxes"][0, 3:].numpy().sum() == 0.0
