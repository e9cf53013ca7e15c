"""Fixtures for model-prep: a detector and a classifier SavedModel, and the detector prepared by the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from mp_detectors import Classifier, run_prepare, save_detector  # first: it quiets TensorFlow's C++ logging
import tensorflow as tf  # noqa: E402, I001


@pytest.fixture(scope="session")
def detector_dir(tmp_path_factory) -> Path:
    return save_detector(tmp_path_factory.mktemp("detector") / "square", rows=10)


@pytest.fixture(scope="session")
def classifier_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("classifier") / "clf"
    clf = Classifier()
    tf.saved_model.save(clf, str(path), signatures={"serving_default": clf.classify.get_concrete_function()})
    return path


@pytest.fixture(scope="session")
def prepared(tmp_path_factory, detector_dir) -> Path:
    """`<out>/square/1`, prepared by the real CLI."""
    out = tmp_path_factory.mktemp("models")
    res = run_prepare("--saved-model", str(detector_dir), "--out", str(out), "--name", "square", "--version", "1", "--json")
    assert res.returncode == 0, res.stderr
    return out / "square" / "1"


@pytest.fixture(scope="session")
def prepared_model(prepared):
    return tf.saved_model.load(str(prepared))
