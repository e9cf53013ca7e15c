// The rule for a model name, shared by model-prep (directory names) and serving (URL segments, text protos).
import { OdapiError } from "./errors";

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const MAX_NAME_LENGTH = 128;

/** Model names become URL path segments, directory names and text-proto strings: keep them boring. */
export function validateModelName(name: string): void {
  if (typeof name !== "string" || name.length === 0) {
    throw new OdapiError("a model name is empty", "name every model, e.g. ssd_mobilenet_v2", "config");
  }
  if (name.length > MAX_NAME_LENGTH || !MODEL_NAME.test(name) || name.includes("..")) {
    throw new OdapiError(
      `model name ${JSON.stringify(name)} is not allowed`,
      `use letters, digits, '_', '.' and '-' only, starting with a letter or digit, no '..', at most ${MAX_NAME_LENGTH} characters (e.g. ssd_mobilenet_v2)`,
      "config",
    );
  }
}
