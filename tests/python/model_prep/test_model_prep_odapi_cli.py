"""`odapi prepare` end to end: catalog download from a local mirror -> cache -> prepare.py in the venv."""

from __future__ import annotations

import functools
import json
import subprocess
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import tensorflow as tf
from mp_detectors import REPO, square_image

HANDLE = "tensorflow/ssd-mobilenet-v2/tensorFlow2/ssd-mobilenet-v2/1"


def odapi(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["node", str(REPO / "bin" / "odapi.cjs"), "prepare", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


class QuietHandler(SimpleHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        QuietHandler.hits.append(self.path)
        super().do_GET()


@pytest.fixture(scope="module")
def mirror(tmp_path_factory, detector_dir):
    root = tmp_path_factory.mktemp("mirror")
    target = root / HANDLE / "download"
    target.parent.mkdir(parents=True)
    with tarfile.open(target, "w:gz") as tar:
        # Nested like the TF2 model zoo archives: <model>/saved_model/saved_model.pb
        tar.add(detector_dir, arcname="ssd_mobilenet_v2_coco17/saved_model")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_catalog_model_downloads_prepares_and_reuses_the_cache(mirror, tmp_path):
    common = ["--catalog", "ssd_mobilenet_v2", "--mirror", mirror, "--cache-dir", str(tmp_path / "cache")]
    res = odapi(*common, "--out", str(tmp_path / "models"), "--json")
    assert res.returncode == 0, res.stderr
    assert "runner: venv (Python 3 found" in res.stderr
    out = json.loads(res.stdout)
    assert out["runner"] == "venv"
    [model] = out["models"]
    assert model["name"] == "ssd_mobilenet_v2" and model["status"] == "prepared"
    assert len(model["sha256"]) == 64
    loaded = tf.saved_model.load(model["path"])
    png, want = square_image(90, 60, (10, 10, 40, 30), "PNG")
    got = loaded.signatures["serving_default"](images=tf.constant([png]))["detection_boxes"][0, 0].numpy()
    assert got == pytest.approx(want, abs=1e-6)

    hits = len(QuietHandler.hits)
    res = odapi(*common, "--out", str(tmp_path / "models"), "--if-exists", "skip", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["models"][0]["status"] == "skipped"
    assert "ssd_mobilenet_v2: cached" in res.stderr
    assert len(QuietHandler.hits) == hits


def test_cli_reports_prepare_errors_with_their_exit_code(classifier_dir, tmp_path):
    res = odapi("--saved-model", str(classifier_dir), "--name", "clf", "--out", str(tmp_path), "--runner", "venv")
    assert res.returncode == 13
    assert "error: the SavedModel is not a TF2 detector" in res.stderr
    assert "\n  fix: pass a TF2 Object Detection API export" in res.stderr
    assert not Path(tmp_path / "clf" / "1").exists()


def test_cli_usage_errors(tmp_path):
    res = odapi("--out", str(tmp_path))
    assert res.returncode == 2
    assert "error: nothing to prepare" in res.stderr
    res = odapi("--catalog", "yolo")
    assert res.returncode == 2
