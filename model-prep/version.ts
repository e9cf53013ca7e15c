// Model versions are TF Serving version dirs: positive integers (non-numeric dirs are ignored by the server).
import { OdapiError } from "../common/errors";

export function checkVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new OdapiError(
      `model version ${version} is not a positive integer`,
      "pass --version 1 (or any positive integer): TF Serving only loads numeric version dirs",
      "usage",
    );
  }
}
