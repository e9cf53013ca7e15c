"""A TF Serving REST stand-in backed by real TensorFlow, for the client's end-to-end test.

TF Serving itself cannot run here (no Docker), so this serves prepared SavedModels with the same REST
contract (api_rest.md): GET /v1/models/<name>, GET .../metadata, POST ...:predict with row-format
{"instances": [{"b64": ...}]}, errors as {"error": ...}. The model, its image decoding and its outputs are
real TensorFlow; only the HTTP layer is this file.

    python tf_rest_server.py --build-square-detector DIR   # builds + prepares (model-prep's prepare.py) a model "square"
    python tf_rest_server.py --models DIR                   # serves DIR/<name>/<version>/; prints "PORT <n>"
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[2]


def build_square_detector(out: Path) -> None:
    # model-prep's own test detector (finds a red square) and its real prepare CLI.
    sys.path.insert(0, str(REPO / "tests" / "python" / "model_prep"))
    from mp_detectors import run_prepare, save_detector  # noqa: PLC0415

    raw = save_detector(out / "raw-square", rows=10)
    res = run_prepare("--saved-model", str(raw), "--out", str(out / "models"), "--name", "square", "--version", "1", "--json")
    if res.returncode != 0:
        sys.exit(f"prepare.py failed: {res.stderr}")


def dtype_name(dtype) -> str:
    return "DT_" + {"float32": "FLOAT", "string": "STRING", "uint8": "UINT8", "int32": "INT32"}.get(dtype.name, dtype.name.upper())


def tensor_info(spec) -> dict:
    dims = [{"size": str(-1 if d is None else d), "name": ""} for d in spec.shape.as_list()]
    return {"dtype": dtype_name(spec.dtype), "tensor_shape": {"dim": dims, "unknown_rank": False}}


def serve(models_dir: Path) -> None:
    import tensorflow as tf  # noqa: PLC0415

    models = {}
    for model_dir in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        versions = sorted(int(v.name) for v in model_dir.iterdir() if v.name.isdigit())
        loaded = tf.saved_model.load(str(model_dir / str(versions[-1])))
        models[model_dir.name] = (versions[-1], loaded.signatures["serving_default"], loaded)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def route(self):
            path = self.path.split("?")[0]
            if not path.startswith("/v1/models/"):
                return None, None
            rest = path[len("/v1/models/") :]
            for suffix in (":predict", "/metadata"):
                if rest.endswith(suffix):
                    return rest[: -len(suffix)], suffix
            return rest, ""

        def do_GET(self):
            name, call = self.route()
            if name not in models:
                return self.send(404, {"error": f"Could not find any versions of model {name}"})
            version, sig, _ = models[name]
            if call == "":
                return self.send(200, {"model_version_status": [{"version": str(version), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]})
            inputs = {k: tensor_info(v) for k, v in sig.structured_input_signature[1].items()}
            outputs = {k: tensor_info(v) for k, v in sig.structured_outputs.items()}
            return self.send(200, {
                "model_spec": {"name": name, "signature_name": "", "version": str(version)},
                "metadata": {"signature_def": {"signature_def": {"serving_default": {"inputs": inputs, "outputs": outputs, "method_name": "tensorflow/serving/predict"}}}},
            })

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            name, call = self.route()
            if call != ":predict" or name not in models:
                return self.send(404, {"error": f"Servable not found for request: Latest({name})"})
            _, sig, _ = models[name]
            try:
                instances = json.loads(body)["instances"]
            except (ValueError, KeyError):
                return self.send(400, {"error": "Missing 'inputs' or 'instances' key"})
            images = []
            for i, inst in enumerate(instances):
                try:
                    images.append(base64.b64decode(inst["b64"], validate=True))
                except (binascii.Error, KeyError, TypeError):
                    return self.send(400, {"error": f"Failed to process element: {i} of 'instances' list. JSON Value: {json.dumps(inst)} not formatted correctly for base64 data"})
            (input_name,) = sig.structured_input_signature[1].keys()
            try:
                out = sig(**{input_name: tf.constant(images)})
            except tf.errors.InvalidArgumentError as e:
                return self.send(400, {"error": e.message})
            rows = [{k: v[i].numpy().tolist() for k, v in out.items()} for i in range(len(images))]
            return self.send(200, {"predictions": rows})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-square-detector", type=Path)
    ap.add_argument("--models", type=Path)
    a = ap.parse_args()
    if a.build_square_detector:
        build_square_detector(a.build_square_detector)
    if a.models:
        serve(a.models)
