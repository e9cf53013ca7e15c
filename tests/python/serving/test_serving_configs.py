"""Every rendered TF Serving config file parsed with TF Serving's message definitions (google.protobuf.text_format).

The text comes from the real TypeScript renderers: tests/helpers/render-serving.ts is run once through tsx with all cases.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import text_format

sys.path.insert(0, str(Path(__file__).parent))
from tf_serving_protos import BatchingParameters, ModelServerConfig, MonitoringConfig  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
CONFIG_EXIT_CODE = 13  # common/errors.ts ExitCode.config

CATALOG = [
    "ssd_mobilenet_v2",
    "retinanet_resnet50_v1_fpn_640x640",
    "efficientdet_d0",
    "faster_rcnn_resnet50_v1_640x640",
]

GOOD = {
    "one_model": {"host": "cpu", "remoteDir": "/opt/odapi", "models": [{"name": "ssd_mobilenet_v2"}]},
    "seed_pair_with_gateway": {
        "host": "cpu",
        "remoteDir": "/opt/odapi",
        "apiKey": "0123456789abcdef0123456789abcdef",
        "models": [{"name": "ssd_mobilenet_v2"}, {"name": "retinanet_resnet50_v1_fpn_640x640"}],
    },
    "whole_catalog_gpu": {"host": "gpu", "remoteDir": "/srv/odapi", "models": [{"name": n} for n in CATALOG]},
    "policies_and_labels": {
        "host": "cpu",
        "remoteDir": "/opt/odapi",
        "models": [
            {"name": "a.model-1", "versionPolicy": {"latest": 2}, "labels": {"stable": 1, "canary": 2}},
            {"name": "B_2", "versionPolicy": {"all": True}},
            {"name": "c3", "versionPolicy": {"specific": [3, 7]}, "labels": {"prod": 7}},
        ],
    },
    "batching_defaults": {
        "host": "cpu",
        "remoteDir": "/opt/odapi",
        "models": [{"name": "m"}],
        "batching": {},
    },
    "batching_custom": {
        "host": "gpu",
        "remoteDir": "/opt/odapi",
        "models": [{"name": "m"}],
        "batching": {
            "batchTimeoutMicros": 500,
            "numBatchThreads": 4,
            "allowedBatchSizes": [1, 2, 4, 16],
            "padVariableLengthInputs": True,
        },
    },
}


def bad(models, **extra):
    return {"host": "cpu", "remoteDir": "/opt/odapi", "models": models, **extra}


ODD_NAMES = ["a b", "../etc", "x/y", "-lead", "_lead", ".hidden", "a..b", "naïve", 'q"uote', "new\nline", "x" * 129, ""]
BAD = {
    # The message quotes the bad name as JSON (JSON.stringify), so odd characters stay visible.
    **{
        f"odd_name_{i}": (bad([{"name": n}]), json.dumps(n, ensure_ascii=False) if n else "empty")
        for i, n in enumerate(ODD_NAMES)
    },
    "duplicate": (bad([{"name": "m"}, {"name": "m"}]), "listed twice"),
    "no_models": (bad([]), "no models"),
    "bad_label_name": (bad([{"name": "m", "labels": {"1x": 1}}]), "label"),
    "label_outside_policy": (bad([{"name": "m", "versionPolicy": {"specific": [1]}, "labels": {"s": 2}}]), "does not load"),
    "zero_latest": (bad([{"name": "m", "versionPolicy": {"latest": 0}}]), "latest"),
    "empty_specific": (bad([{"name": "m", "versionPolicy": {"specific": []}}]), "specific"),
    "relative_dir": ({"host": "cpu", "remoteDir": "opt/odapi", "models": [{"name": "m"}]}, "remoteDir"),
    "gpu_typo": ({"host": "GPU", "remoteDir": "/opt/odapi", "models": [{"name": "m"}]}, "GPU"),
    "short_key": (bad([{"name": "m"}], apiKey="short"), "API key"),
    "key_with_quote": (bad([{"name": "m"}], apiKey='0123456789abcdef"; return 200;'), "API key"),
    "allowed_not_ending_at_max": (bad([{"name": "m"}], batching={"maxBatchSize": 8, "allowedBatchSizes": [1, 4]}), "maxBatchSize"),
}


def render(cases):
    """Runs the real renderer once for a list of ServingOptions; returns one result per case."""
    tsx = REPO / "node_modules" / ".bin" / "tsx"
    proc = subprocess.run(
        [str(tsx), "tests/helpers/render-serving.ts", "--json", json.dumps(cases)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def rendered():
    names = list(GOOD) + list(BAD)
    results = render([GOOD[n] for n in GOOD] + [BAD[n][0] for n in BAD])
    return dict(zip(names, results))


def files_of(result):
    assert "files" in result, result
    return {f["path"]: f for f in result["files"]}


@pytest.mark.parametrize("case", list(GOOD))
def test_models_config_parses_as_model_server_config(rendered, case):
    opts = GOOD[case]
    text = files_of(rendered[case])["config/models.config"]["content"]
    config = text_format.Parse(text, ModelServerConfig())
    served = list(config.model_config_list.config)
    assert [c.name for c in served] == [m["name"] for m in opts["models"]]
    for c, model in zip(served, opts["models"]):
        # base_path is the model dir as mounted in the container, without the version dir.
        assert c.base_path == f"/models/{model['name']}"
        assert c.model_platform == "tensorflow"
        policy = model.get("versionPolicy", {"latest": 1})
        kind = c.model_version_policy.WhichOneof("policy_choice")
        if "latest" in policy:
            assert kind == "latest" and c.model_version_policy.latest.num_versions == policy["latest"]
        elif "specific" in policy:
            assert kind == "specific" and list(c.model_version_policy.specific.versions) == policy["specific"]
        else:
            assert kind == "all"
        assert dict(c.version_labels) == model.get("labels", {})


@pytest.mark.parametrize("case", list(GOOD))
def test_monitoring_config_turns_on_prometheus(rendered, case):
    text = files_of(rendered[case])["config/monitoring.config"]["content"]
    config = text_format.Parse(text, MonitoringConfig())
    assert config.prometheus_config.enable is True
    assert config.prometheus_config.path == "/monitoring/prometheus/metrics"


def test_batching_is_off_unless_asked(rendered):
    for case in ("one_model", "seed_pair_with_gateway", "whole_catalog_gpu", "policies_and_labels"):
        files = files_of(rendered[case])
        assert "config/batching.config" not in files
        assert "--enable_batching" not in files["start.sh"]["content"]


def test_batching_defaults_parse(rendered):
    files = files_of(rendered["batching_defaults"])
    params = text_format.Parse(files["config/batching.config"]["content"], BatchingParameters())
    assert params.max_batch_size.value == 8
    assert params.batch_timeout_micros.value == 2000
    assert params.num_batch_threads.value == 2
    assert list(params.allowed_batch_sizes) == []
    assert "--batching_parameters_file=/config/batching.config" in files["start.sh"]["content"]


def test_batching_custom_parses_and_max_matches_last_allowed_size(rendered):
    text = files_of(rendered["batching_custom"])["config/batching.config"]["content"]
    params = text_format.Parse(text, BatchingParameters())
    assert list(params.allowed_batch_sizes) == [1, 2, 4, 16]
    # TF Serving refuses a config whose last allowed size differs from max_batch_size.
    assert params.max_batch_size.value == 16
    assert params.batch_timeout_micros.value == 500
    assert params.num_batch_threads.value == 4
    assert params.pad_variable_length_inputs is True


def test_gateway_config_only_with_key_and_private(rendered):
    assert "config/gateway.conf" not in files_of(rendered["one_model"])
    gateway = files_of(rendered["seed_pair_with_gateway"])["config/gateway.conf"]
    assert gateway["mode"] == 0o600
    assert "0123456789abcdef0123456789abcdef" in gateway["content"]
    for path, f in files_of(rendered["seed_pair_with_gateway"]).items():
        if path != "config/gateway.conf":
            assert "0123456789abcdef0123456789abcdef" not in f["content"], path


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_rejected_before_rendering(rendered, case):
    result = rendered[case]
    assert "files" not in result, f"{case} rendered files"
    error = result["error"]
    assert error["exitCode"] == CONFIG_EXIT_CODE
    assert BAD[case][1] in error["message"]
    assert error["remedy"]
