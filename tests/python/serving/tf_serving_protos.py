"""TF Serving's config messages for text-format validation.

ModelServerConfig comes from the real `tensorflow-serving-api` package. That package does not ship
`monitoring_config_pb2` nor `session_bundle_config_pb2` (BatchingParameters), and there is no protoc here,
so those two messages are declared below field for field (same names, numbers, types and wrapper types) as
in tensorflow/serving: tensorflow_serving/config/monitoring_config.proto and
tensorflow_serving/servables/tensorflow/session_bundle_config.proto (2.20.0). google.protobuf.wrappers is
the real one from the protobuf runtime.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2
from tensorflow_serving.config import model_server_config_pb2

ModelServerConfig = model_server_config_pb2.ModelServerConfig

_F = descriptor_pb2.FieldDescriptorProto


def _field(name, number, type_, label=_F.LABEL_OPTIONAL, type_name=None):
    field = _F(name=name, number=number, type=type_, label=label)
    if type_name:
        field.type_name = type_name
    return field


def _build():
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)

    monitoring = descriptor_pb2.FileDescriptorProto(
        name="odapi_test/monitoring_config.proto", package="tensorflow.serving", syntax="proto3"
    )
    prometheus = monitoring.message_type.add(name="PrometheusConfig")
    prometheus.field.extend([_field("enable", 1, _F.TYPE_BOOL), _field("path", 2, _F.TYPE_STRING)])
    config = monitoring.message_type.add(name="MonitoringConfig")
    config.field.append(
        _field("prometheus_config", 1, _F.TYPE_MESSAGE, type_name=".tensorflow.serving.PrometheusConfig")
    )
    pool.Add(monitoring)

    batching = descriptor_pb2.FileDescriptorProto(
        name="odapi_test/session_bundle_config.proto",
        package="tensorflow.serving",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    params = batching.message_type.add(name="BatchingParameters")
    int64 = ".google.protobuf.Int64Value"
    params.field.extend(
        [
            _field("max_batch_size", 1, _F.TYPE_MESSAGE, type_name=int64),
            _field("batch_timeout_micros", 2, _F.TYPE_MESSAGE, type_name=int64),
            _field("max_enqueued_batches", 3, _F.TYPE_MESSAGE, type_name=int64),
            _field("num_batch_threads", 4, _F.TYPE_MESSAGE, type_name=int64),
            _field("thread_pool_name", 5, _F.TYPE_MESSAGE, type_name=".google.protobuf.StringValue"),
            _field("allowed_batch_sizes", 6, _F.TYPE_INT64, label=_F.LABEL_REPEATED),
            _field("pad_variable_length_inputs", 7, _F.TYPE_BOOL),
        ]
    )
    pool.Add(batching)

    def cls(name):
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))

    return cls("tensorflow.serving.MonitoringConfig"), cls("tensorflow.serving.BatchingParameters")


MonitoringConfig, BatchingParameters = _build()
