import { OdapiError } from "../../common/errors";

/** The OdapiError fn throws (to check its exit code, message and remedy); anything else fails the test. */
export function thrown(fn: () => unknown): OdapiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OdapiError) return err;
    throw err;
  }
  throw new Error("expected an OdapiError, nothing was thrown");
}
