"""prepare.py as a command: clear errors with exit codes, and never a partial or stray version dir."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from mp_detectors import PREPARE, run_prepare


def odapi_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("odapi-error: ")]
    assert len(lines) == 1, stderr
    assert " | fix: " in lines[0]
    return lines[0]


def test_non_detector_names_expected_and_found_signature(classifier_dir, tmp_path):
    res = run_prepare("--saved-model", str(classifier_dir), "--out", str(tmp_path), "--name", "clf")
    assert res.returncode == 13
    line = odapi_error(res.stderr)
    assert "not a TF2 detector" in line
    assert "one input uint8 [1, H, W, 3]" in line
    assert "detection_boxes, detection_scores, detection_classes, num_detections" in line
    assert "found inputs {x: float32 [None, 224, 224, 3]} -> outputs {logits}" in line
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "clf").exists() or list((tmp_path / "clf").iterdir()) == []


def test_missing_saved_model_is_not_found(tmp_path):
    res = run_prepare("--saved-model", str(tmp_path / "nope"), "--out", str(tmp_path), "--name", "x")
    assert res.returncode == 9
    assert "saved_model.pb is missing" in odapi_error(res.stderr)


def test_bad_name_and_version_are_usage_errors(detector_dir, tmp_path):
    res = run_prepare("--saved-model", str(detector_dir), "--out", str(tmp_path), "--name", "../evil")
    assert res.returncode == 2
    assert "model name '../evil' is not allowed" in odapi_error(res.stderr)
    res = run_prepare("--saved-model", str(detector_dir), "--out", str(tmp_path), "--name", "ok", "--version", "0")
    assert res.returncode == 2
    assert "not a positive integer" in odapi_error(res.stderr)


def test_warmup_image_that_is_not_an_image(detector_dir, tmp_path):
    bogus = tmp_path / "bogus.jpg"
    bogus.write_bytes(b"nope")
    res = run_prepare(
        "--saved-model", str(detector_dir), "--out", str(tmp_path / "m"), "--name", "w", "--warmup-image", str(bogus)
    )
    assert res.returncode == 2
    assert "is not a JPEG/PNG/GIF/BMP image" in odapi_error(res.stderr)
    assert not (tmp_path / "m" / "w" / "1").exists()


def test_output_has_only_the_numeric_version_dir(prepared):
    # The staging dir was renamed, not copied: nothing non-numeric is left for an upload to pick up.
    assert [p.name for p in prepared.parent.iterdir()] == ["1"]
    assert (prepared / "saved_model.pb").is_file()
    assert (prepared / "variables").is_dir()


def test_existing_version_fail_skip_replace(detector_dir, tmp_path):
    out = tmp_path / "m"
    args = ["--saved-model", str(detector_dir), "--out", str(out), "--name", "sq", "--json"]
    assert run_prepare(*args).returncode == 0
    marker = out / "sq" / "1" / "marker"
    marker.write_text("old")

    res = run_prepare(*args)
    assert res.returncode == 2
    assert "already exists" in odapi_error(res.stderr)
    assert marker.exists()

    res = run_prepare(*args, "--if-exists", "skip")
    assert res.returncode == 0
    assert json.loads(res.stdout)["status"] == "skipped"
    assert marker.exists()

    res = run_prepare(*args, "--if-exists", "replace")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["status"] == "prepared"
    assert not marker.exists()
    assert sorted(p.name for p in (out / "sq").iterdir()) == ["1"]


def test_killed_run_leaves_no_version_and_the_rerun_tidies_up(detector_dir, tmp_path):
    out = tmp_path / "m"
    args = [sys.executable, str(PREPARE), "--saved-model", str(detector_dir), "--out", str(out), "--name", "k"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = out / "k"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not (parent.is_dir() and any(parent.glob(".staging-*"))):
            assert proc.poll() is None, "prepare.py finished before the staging dir was seen"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    names = [p.name for p in parent.iterdir()]
    assert names and all(n.startswith(".staging-1-") for n in names)  # nothing TF Serving would load

    # A version moved aside by a replace that was killed, from a pid that no longer exists.
    moved = parent / ".old-2-4194305"
    moved.mkdir()
    (moved / "saved_model.pb").write_text("v2")
    res = run_prepare("--saved-model", str(detector_dir), "--out", str(out), "--name", "k")
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in parent.iterdir()) == ["1", "2"]
    assert (parent / "2" / "saved_model.pb").read_text() == "v2"
