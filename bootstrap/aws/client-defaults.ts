// What every AWS SDK client odapi creates shares; each caller adds its service's own settings.

/** A few attempts keep a dead endpoint from hanging the command (network errors are retried by the SDK). */
export const AWS_MAX_ATTEMPTS = 3;

/** Call before creating a client: the SDK is pinned, and its notice that future releases need Node 22 is not for our users (engines: node >=20.19). */
export function quietSdkNodeNotice(env: NodeJS.ProcessEnv = process.env): void {
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
}
