// Private keys for SSH: from a file that only its owner can read (as ssh insists), or from ODAPI_SSH_KEY.
import { readFileSync, statSync } from "node:fs";
import { utils } from "ssh2";
import { OdapiError } from "../../common/errors";

export const KEY_ENV = "ODAPI_SSH_KEY";

/** Whether a key file's permission bits are safe: no group or other access at all, like OpenSSH requires. */
export function keyModeProblem(mode: number): string | undefined {
  const perms = mode & 0o777;
  if (perms & 0o077) return `permissions ${perms.toString(8).padStart(4, "0")} are too open`;
  return undefined;
}

/** Reads a private key file, refusing group/world-readable files (mode must be 0600 or 0400). */
export function readPrivateKeyFile(file: string): Buffer {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch (err) {
    throw new OdapiError(
      `cannot read the SSH key ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      "pass --key with the path of your private key (e.g. ~/.ssh/id_ed25519 or labsuser.pem), or set ODAPI_SSH_KEY",
      "config",
    );
  }
  if (!st.isFile()) {
    throw new OdapiError(
      `the SSH key ${file} is not a file`,
      "pass --key with the path of a private key file",
      "config",
    );
  }
  const problem = keyModeProblem(st.mode);
  if (problem) {
    throw new OdapiError(
      `the SSH key ${file} is readable by other users (${problem}); ssh refuses such keys too`,
      `run: chmod 600 ${file}`,
      "config",
    );
  }
  return readFileSync(file);
}

/** The key to use: --key wins; else the ODAPI_SSH_KEY environment variable holds the key text itself. */
export function loadPrivateKey(keyPath: string | undefined, env: NodeJS.ProcessEnv = process.env): Buffer {
  if (keyPath) return readPrivateKeyFile(keyPath);
  const text = env[KEY_ENV];
  if (text?.trim()) return Buffer.from(text.endsWith("\n") ? text : `${text}\n`);
  throw new OdapiError(
    "no SSH private key given",
    `pass --key <path to the private key> or set ${KEY_ENV} to the key's text`,
    "usage",
  );
}

/** Checks that the key parses (and is not passphrase-protected) before any connection is made. */
export function parsePrivateKey(key: string | Buffer): string | Buffer {
  const parsed = utils.parseKey(key);
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  if (first instanceof Error || !first) {
    const why = first instanceof Error ? first.message : "no key found";
    const encrypted = /passphrase|encrypted/i.test(why);
    throw new OdapiError(
      `the SSH private key cannot be used: ${why}`,
      encrypted
        ? "use a key without a passphrase for automation (ssh-keygen -p -N '' -f <key> on a copy), or load it from a secret store into ODAPI_SSH_KEY"
        : "pass the PRIVATE key (OpenSSH or PEM format), not the .pub file",
      "config",
    );
  }
  if (first.isPrivateKey && !first.isPrivateKey()) {
    throw new OdapiError(
      "the SSH key given is a public key",
      "pass the private key file (the one without .pub)",
      "config",
    );
  }
  return key;
}
