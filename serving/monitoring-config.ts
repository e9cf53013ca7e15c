// monitoring.config: a MonitoringConfig text proto turning on Prometheus metrics on the REST port.
import { PROMETHEUS_PATH } from "./constants";
import { textProtoString } from "./text-proto";

export function renderMonitoringConfig(path: string = PROMETHEUS_PATH): string {
  return `prometheus_config {\n  enable: true\n  path: ${textProtoString(path)}\n}\n`;
}
