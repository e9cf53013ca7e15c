// Where the API is: the Pulumi stack's outputs (apiUrl, models, apiKey, caCertificate), read with the pulumi CLI.
import { execFile } from "node:child_process";
import { OdapiError } from "../common/errors";

export interface StackTarget {
  apiUrl: string;
  models: string[];
  apiKey?: string;
  /** PEM of the private CA that signed the API's certificate (absent: plain HTTP, or a publicly trusted certificate). */
  caCertificate?: string;
}

/** The exact command that reads a stack's outputs, secrets included (pure). */
export function stackOutputArgv(stack: string): string[] {
  return ["pulumi", "stack", "output", "--json", "--show-secrets", "-s", stack];
}

/** The outputs as a JSON object; anything else is a config error (pure). */
export function parseOutputsJson(json: string, stack: string): Record<string, unknown> {
  try {
    const o: unknown = JSON.parse(json);
    if (o && typeof o === "object" && !Array.isArray(o)) return o as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new OdapiError(
    `\`pulumi stack output --json -s ${stack}\` did not print a JSON object`,
    "run it yourself to see why, or pass --url",
    "config",
  );
}

/** An output's value when it is a non-empty string, else undefined (pure). */
export function stringOutput(v: unknown): string | undefined {
  return typeof v === "string" && v ? v : undefined;
}

/** The error for an output the stack lacks (pure). */
export function missingOutput(stack: string, what: string, orElse = "or pass --url"): OdapiError {
  return new OdapiError(
    `stack ${stack} has no ${what} output (not deployed yet, or deployed by an older version)`,
    `run \`pulumi up -s ${stack}\`, ${orElse}`,
    "config",
  );
}

/** Checks and narrows `pulumi stack output --json` to what the client needs (pure). */
export function parseStackOutputs(json: string, stack: string): StackTarget {
  return stackTargetOf(parseOutputsJson(json, stack), stack);
}

/** The client's part of the outputs: apiUrl, models, apiKey (pure). */
export function stackTargetOf(o: Record<string, unknown>, stack: string): StackTarget {
  const notDeployed = (what: string) => missingOutput(stack, what);
  if (typeof o.apiUrl !== "string" || !o.apiUrl) throw notDeployed("apiUrl");
  const models = o.models;
  if (!Array.isArray(models) || models.length === 0 || models.some((m) => typeof m !== "string")) {
    throw notDeployed("models");
  }
  const caCertificate = stringOutput(o.caCertificate);
  return {
    apiUrl: o.apiUrl,
    models: models as string[],
    apiKey: stringOutput(o.apiKey),
    ...(caCertificate ? { caCertificate } : {}),
  };
}

/** Maps a failed pulumi invocation to the user's fix (pure). */
export function stackCommandError(
  stack: string,
  failure: { code?: string | number | null; stderr: string },
): OdapiError {
  if (failure.code === "ENOENT") {
    return new OdapiError(
      "the pulumi CLI is not installed (it reads the stack's apiUrl, models and apiKey)",
      "install it from https://www.pulumi.com/docs/install/ or pass --url http://HOST:8501 (and --api-key)",
      "missingTool",
    );
  }
  const line = failure.stderr.trim().split("\n").filter(Boolean).pop() ?? "";
  if (/no stack named|stack .* not found|no stack/i.test(failure.stderr)) {
    return new OdapiError(
      `Pulumi stack ${JSON.stringify(stack)} does not exist: ${line}`,
      `create it with \`pulumi up -s ${stack}\` (see \`pulumi stack ls\`), or pass --url`,
      "config",
    );
  }
  return new OdapiError(
    `\`${stackOutputArgv(stack).join(" ")}\` failed: ${line || `exit ${failure.code}`}`,
    "run it yourself from the project directory (pulumi login, passphrase?) or pass --url",
    "config",
  );
}

export async function readStack(stack: string, cwd: string): Promise<StackTarget> {
  return stackTargetOf(await readStackOutputs(stack, cwd), stack);
}

/** Every output of the stack (secrets included), as `pulumi stack output --json` prints them. */
export function readStackOutputs(stack: string, cwd: string): Promise<Record<string, unknown>> {
  const [cmd, ...args] = stackOutputArgv(stack);
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        reject(stackCommandError(stack, { code, stderr: String(stderr) }));
        return;
      }
      try {
        resolve(parseOutputsJson(String(stdout), stack));
      } catch (e) {
        reject(e);
      }
    });
  });
}
