#!/usr/bin/env python3
"""Re-exports a TF2 object-detection SavedModel so TensorFlow Serving accepts encoded images.

Input: a detector with the TF Hub / Kaggle signature (``input_tensor`` uint8 [1, H, W, 3] in; detection_boxes,
detection_scores, detection_classes, num_detections out). Output: ``<out>/<name>/<version>/`` whose
``serving_default`` takes ``images`` DT_STRING [batch] (REST ``{"instances": [{"b64": ...}]}``), decodes JPEG/PNG,
runs the detector once per image and returns per-image detections padded to a fixed N. The original signature is
kept as ``serving_tensor``. A warmup file is written from a sample image. The version dir is built under a
non-numeric staging name (TF Serving ignores it) and renamed only once complete and verified.

Needs only TensorFlow (the tensorflow/tensorflow image has no tensorflow-serving-api): the warmup records are
encoded here with TensorFlow's own TensorProto and the PredictionLog field numbers.

Errors print one line ``odapi-error: <problem> | fix: <remedy>`` on stderr and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Exit codes shared with common/errors.ts (ExitCode).
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 9
EXIT_CONFIG = 13

SERVING_SIGNATURE = "serving_default"
TENSOR_SIGNATURE = "serving_tensor"
INPUT_KEY = "images"
REQUIRED_OUTPUTS = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")
EXPECTED_SIGNATURE = (
    "signature 'serving_default' with one input uint8 [1, H, W, 3] (e.g. 'input_tensor') and outputs "
    + ", ".join(REQUIRED_OUTPUTS)
)
DEFAULT_MAX_DETECTIONS = 100
WARMUP_RELPATH = Path("assets.extra") / "tf_serving_warmup_requests"
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class PrepareError(Exception):
    """A failure the user can act on: what went wrong, how to fix it, and the exit code."""

    def __init__(self, message: str, remedy: str, exit_code: int = EXIT_FAILURE):
        super().__init__(message)
        self.remedy = remedy
        self.exit_code = exit_code


def log(msg: str) -> None:
    print(f"prepare: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- inspection


def describe_signature(fn) -> str:
    """'inputs {...} -> outputs {...}' for error messages."""
    _, kwargs = fn.structured_input_signature
    ins = ", ".join(f"{k}: {v.dtype.name} {v.shape.as_list() if v.shape.rank is not None else '?'}" for k, v in sorted(kwargs.items()))
    outs = fn.structured_outputs
    out_names = ", ".join(sorted(outs)) if isinstance(outs, dict) else type(outs).__name__
    return f"inputs {{{ins}}} -> outputs {{{out_names}}}"


def check_detector(loaded) -> tuple[object, str, int]:
    """Returns (signature fn, its image input name, N) or raises PrepareError naming what was found."""
    sigs = dict(loaded.signatures)
    if SERVING_SIGNATURE not in sigs:
        found = ", ".join(sorted(sigs)) or "no signatures at all"
        raise PrepareError(
            f"the SavedModel is not a TF2 detector: expected {EXPECTED_SIGNATURE}; found signatures: {found}",
            "pass a TF2 Object Detection API export (exporter_main_v2.py) or a TF Hub / Kaggle detector",
            EXIT_CONFIG,
        )
    fn = sigs[SERVING_SIGNATURE]
    _, kwargs = fn.structured_input_signature
    outputs = fn.structured_outputs if isinstance(fn.structured_outputs, dict) else {}
    image_ok = len(kwargs) == 1
    if image_ok:
        (input_name, spec), = kwargs.items()
        shape = spec.shape
        image_ok = (
            spec.dtype.name == "uint8"
            and shape.rank == 4
            and shape[0] in (1, None)
            and shape[3] in (3, None)
        )
    missing = [k for k in REQUIRED_OUTPUTS if k not in outputs]
    if not image_ok or missing:
        raise PrepareError(
            f"the SavedModel is not a TF2 detector: expected {EXPECTED_SIGNATURE}; found {describe_signature(fn)}",
            "pass a TF2 Object Detection API export (exporter_main_v2.py) or a TF Hub / Kaggle detector",
            EXIT_CONFIG,
        )
    n = outputs["detection_scores"].shape
    max_det = n[1] if n.rank == 2 and n[1] is not None else DEFAULT_MAX_DETECTIONS
    return fn, input_name, int(max_det)


def check_saved_model_dir(path: Path) -> None:
    if not (path / "saved_model.pb").is_file():
        raise PrepareError(
            f"no SavedModel at {path} (saved_model.pb is missing)",
            "point --saved-model at the directory that holds saved_model.pb and variables/",
            EXIT_NOT_FOUND,
        )


def load_saved_model(tf, path: Path):
    try:
        return tf.saved_model.load(str(path))
    except Exception as err:  # noqa: BLE001 - TensorFlow raises many types here; all mean "cannot load"
        raise PrepareError(
            f"TensorFlow cannot load the SavedModel at {path}: {str(err).splitlines()[0] if str(err) else type(err).__name__}",
            "check that it is a complete TF2 SavedModel written by TensorFlow <= 2.20",
            EXIT_CONFIG,
        ) from err


# ---------------------------------------------------------------------------------------------- the wrapper


def build_serving_fn(tf, detector_fn, input_name: str, max_det: int):
    """serving_default: encoded images [B] -> per-image detections padded to max_det."""

    def one_image(data):
        # channels=3 turns grey and RGBA into RGB; expand_animations=False gives GIFs one frame, always rank 3.
        image = tf.io.decode_image(data, channels=3, expand_animations=False, dtype=tf.uint8)
        image.set_shape([None, None, 3])
        out = detector_fn(**{input_name: image[tf.newaxis]})  # the detectors accept batch size 1 only
        boxes = tf.reshape(tf.cast(out["detection_boxes"], tf.float32), [-1, 4])[:max_det]
        scores = tf.reshape(tf.cast(out["detection_scores"], tf.float32), [-1])[:max_det]
        classes = tf.reshape(tf.cast(out["detection_classes"], tf.float32), [-1])[:max_det]
        rows = tf.shape(scores)[0]
        num = tf.reshape(tf.cast(out["num_detections"], tf.int32), [-1])[0]
        num = tf.minimum(num, rows)
        pad = max_det - rows
        return (
            tf.pad(boxes, [[0, pad], [0, 0]]),
            tf.pad(scores, [[0, pad]]),
            tf.pad(classes, [[0, pad]]),
            tf.cast(num, tf.float32),
        )

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=INPUT_KEY)])
    def serve(images):
        boxes, scores, classes, num = tf.map_fn(
            one_image,
            images,
            fn_output_signature=(
                tf.TensorSpec([max_det, 4], tf.float32),
                tf.TensorSpec([max_det], tf.float32),
                tf.TensorSpec([max_det], tf.float32),
                tf.TensorSpec([], tf.float32),
            ),
            parallel_iterations=1,
        )
        return {
            "detection_boxes": boxes,
            "detection_scores": scores,
            "detection_classes": classes,
            "num_detections": num,
        }

    return serve


# ---------------------------------------------------------------------------------------------- warmup


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def warmup_record(tf, model_name: str, images: list[bytes]) -> bytes:
    """One serialized tensorflow.serving.PredictionLog{predict_log{request}} for serving_default.

    Field numbers from tensorflow_serving/apis: PredictionLog.predict_log = 6, PredictLog.request = 1,
    PredictRequest.model_spec = 1, .inputs = 2 (map entry key = 1, value = 2), ModelSpec.name = 1,
    .signature_name = 3. The test suite checks the bytes against tensorflow-serving-api's own messages.
    """
    tensor = tf.make_tensor_proto(images, dtype=tf.string, shape=[len(images)]).SerializeToString()
    spec = _field(1, model_name.encode()) + _field(3, SERVING_SIGNATURE.encode())
    inputs_entry = _field(1, INPUT_KEY.encode()) + _field(2, tensor)
    request = _field(1, spec) + _field(2, inputs_entry)
    return _field(6, _field(1, request))


def write_warmup(tf, path: Path, model_name: str, image: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        # One single-image and one two-image request: both map_fn trip counts get traced and warmed.
        writer.write(warmup_record(tf, model_name, [image]))
        writer.write(warmup_record(tf, model_name, [image, image]))


# ---------------------------------------------------------------------------------------------- export


def check_args(args) -> None:
    if not MODEL_NAME.match(args.name) or ".." in args.name:
        raise PrepareError(
            f"model name {args.name!r} is not allowed",
            "use letters, digits, '_', '.' and '-' only, starting with a letter or digit (e.g. ssd_mobilenet_v2)",
            EXIT_USAGE,
        )
    if args.version < 1:
        raise PrepareError(
            f"model version {args.version} is not a positive integer",
            "pass --version 1 (or any positive integer): TF Serving only loads numeric version dirs",
            EXIT_USAGE,
        )
    if args.max_detections is not None and args.max_detections < 1:
        raise PrepareError(f"--max-detections {args.max_detections} must be >= 1", "pass e.g. 100", EXIT_USAGE)
    check_saved_model_dir(args.saved_model)
    if not args.warmup_image.is_file():
        raise PrepareError(
            f"warmup image {args.warmup_image} not found",
            "pass --warmup-image FILE (a JPEG or PNG), e.g. samples/astronaut.jpg",
            EXIT_NOT_FOUND,
        )


def verify_export(tf, path: Path, image: bytes, max_det: int) -> None:
    """Loads the export back and runs one detection, so a broken model is never renamed into place."""
    reloaded = tf.saved_model.load(str(path))
    out = reloaded.signatures[SERVING_SIGNATURE](images=tf.constant([image]))
    if out["detection_boxes"].shape != (1, max_det, 4) or out["num_detections"].shape != (1,):
        raise PrepareError(
            f"the re-exported model returned unexpected shapes {({k: v.shape.as_list() for k, v in out.items()})}",
            "report this with the model's source; the detector's outputs are unusual",
            EXIT_FAILURE,
        )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


STALE = re.compile(r"^\.(staging|old)-(\d+)-(\d+)$")


def clean_stale(parent: Path) -> None:
    """Tidies what a killed run left: staging dirs are dropped; a version moved aside by an interrupted
    --if-exists replace is put back when its place is empty."""
    if not parent.is_dir():
        return
    for entry in parent.iterdir():
        m = STALE.match(entry.name)
        pid = int(m.group(3)) if m else 0
        # Our own pid on a leftover means an earlier container run (each one is pid 1 in its namespace).
        if not m or (pid != os.getpid() and pid_alive(pid)):
            continue
        kind, version = m.group(1), m.group(2)
        if kind == "old" and not (parent / version).exists():
            log(f"restoring version {version} from an interrupted replace")
            os.rename(entry, parent / version)
        else:
            shutil.rmtree(entry, ignore_errors=True)


def prepare(args) -> dict:
    check_args(args)
    final = args.out / args.name / str(args.version)
    clean_stale(final.parent)
    if final.exists():
        if args.if_exists == "skip":
            log(f"{final} exists, skipping")
            return {"name": args.name, "version": args.version, "path": str(final), "status": "skipped"}
        if args.if_exists == "fail":
            raise PrepareError(
                f"{final} already exists",
                f"pick another --version (e.g. {args.version + 1}), or pass --if-exists replace / skip",
                EXIT_USAGE,
            )

    import tensorflow as tf  # imported late: argument errors come back in milliseconds

    started = time.monotonic()
    log(f"loading {args.saved_model}")
    loaded = load_saved_model(tf, args.saved_model)
    detector_fn, input_name, found_n = check_detector(loaded)
    max_det = args.max_detections or found_n
    image = args.warmup_image.read_bytes()
    try:
        tf.io.decode_image(image, channels=3, expand_animations=False)
    except tf.errors.InvalidArgumentError as err:
        raise PrepareError(
            f"warmup image {args.warmup_image} is not a JPEG/PNG/GIF/BMP image",
            "pass --warmup-image with a real photo, e.g. samples/astronaut.jpg",
            EXIT_USAGE,
        ) from err

    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    # A non-numeric sibling: TF Serving ignores it, and rename() within one directory is atomic.
    staging = parent / f".staging-{args.version}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        module = tf.Module()
        module.detector = loaded  # tracked, so its variables are saved with the new model
        module.serve = build_serving_fn(tf, detector_fn, input_name, max_det)
        log(f"exporting {args.name} version {args.version} (images -> {max_det} detections per image)")
        tf.saved_model.save(
            module,
            str(staging),
            signatures={SERVING_SIGNATURE: module.serve.get_concrete_function(), TENSOR_SIGNATURE: detector_fn},
        )
        write_warmup(tf, staging / WARMUP_RELPATH, args.name, image)
        log("verifying the export with the warmup image")
        verify_export(tf, staging, image, max_det)
        if final.exists():  # --if-exists replace: move the old one aside, then swap
            old = parent / f".old-{args.version}-{os.getpid()}"
            os.rename(final, old)
            os.rename(staging, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    seconds = round(time.monotonic() - started, 2)
    log(f"wrote {final} in {seconds} s")
    return {
        "name": args.name,
        "version": args.version,
        "path": str(final),
        "status": "prepared",
        "maxDetections": max_det,
        "seconds": seconds,
    }


def parse_args(argv: list[str]):
    default_warmup = Path(__file__).resolve().parent.parent / "samples" / "astronaut.jpg"
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--saved-model", type=Path, required=True, help="directory holding the detector's saved_model.pb")
    p.add_argument("--name", required=True, help="served model name, e.g. ssd_mobilenet_v2")
    p.add_argument("--out", type=Path, required=True, help="models root; writes <out>/<name>/<version>/")
    p.add_argument("--version", type=int, default=1, help="version dir number (default 1)")
    p.add_argument("--warmup-image", type=Path, default=default_warmup, help="JPEG/PNG for the warmup requests")
    p.add_argument("--max-detections", type=int, default=None, help="N detections per image (default: the model's)")
    p.add_argument("--if-exists", choices=("fail", "skip", "replace"), default="fail", help="when the version exists")
    p.add_argument("--json", action="store_true", help="print one JSON result line on stdout")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        result = prepare(args)
    except PrepareError as err:
        print(f"odapi-error: {err} | fix: {err.remedy}", file=sys.stderr)
        return err.exit_code
    except Exception as err:  # noqa: BLE001 - anything else: one clear line, nothing left half-written
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(
            f"odapi-error: preparing {args.name} failed: {first} | fix: rerun with the same arguments; "
            "if it fails again, check the SavedModel loads in TensorFlow 2.20",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
