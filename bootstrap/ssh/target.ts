// The plain data of an SSH session: whom to reach, and what a remote command returned.

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  privateKey: string | Buffer;
  /** The server's public key, "ssh-ed25519 AAAA…": when set, nothing else is trusted. */
  hostKey?: string;
  /** Trust-on-first-use file (OpenSSH format); default the per-user store (see knownHostsFor in known-hosts.ts). */
  knownHostsFile?: string;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}
