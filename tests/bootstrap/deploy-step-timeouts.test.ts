// deploy's remote steps each run under a time cap, so a host stuck in apt (dpkg lock, a stalled mirror) or in a
// docker pull ends in a timeout error instead of a deploy that never returns. The SSH session, the upload engine,
// the lock and the remote runner are stand-ins here: the subject is which options deploy hands to each step.
import { EventEmitter } from "node:events";
import { deploy } from "../../bootstrap/deploy/index";
import { STEP_TIMEOUT_MS } from "../../bootstrap/deploy/plan";
import type { SshSession } from "../../bootstrap/ssh/session";

type RunCall = { argv: string[]; opts: { sudo?: boolean; timeoutMs?: number } };
const runs: RunCall[] = [];

const session = {
  target: { host: "198.51.100.7", port: 22, user: "ubuntu", privateKey: "k" },
  client: new EventEmitter(),
  exec: async () => ({ code: 0, stdout: "", stderr: "" }),
  run: async (argv: string[], opts: RunCall["opts"] = {}) => {
    runs.push({ argv, opts });
    return { code: 0, stdout: "", stderr: "" };
  },
  close: async () => undefined,
} as unknown as SshSession;

jest.mock("../../bootstrap/ssh/session", () => ({
  ...jest.requireActual("../../bootstrap/ssh/session"),
  connect: async () => session,
}));
jest.mock("../../bootstrap/deploy/lock", () => ({
  acquireRemoteLock: async () => ({ holder: "test", release: async () => undefined }),
}));
jest.mock("../../bootstrap/transfer", () => ({
  ...jest.requireActual("../../bootstrap/transfer"),
  startEarly: () => ({
    probe: Promise.resolve(undefined),
    extra: Promise.resolve({ asked: 0, channels: Promise.resolve([]) }),
    openssh: undefined,
    handOver: () => undefined,
    close: async () => undefined,
  }),
  syncBundle: async () => ({
    uploadedFiles: 0,
    uploadedBytes: 0,
    skippedFiles: 0,
    channels: 0,
    opensshFiles: 0,
    staleVersions: [],
  }),
}));
jest.mock("../../bootstrap/deploy/prepare-models", () => ({
  prepareOnRemote: async () => ({ prepared: [], skipped: ["ssd_mobilenet_v2"] }),
}));

test("prepare-host.sh (Docker install, image pull) runs under its step cap, as start.sh does", async () => {
  await deploy({
    target: session.target,
    remoteDir: "/opt/odapi",
    catalog: ["ssd_mobilenet_v2"],
    start: false,
  });
  const prepareHost = runs.find((r) => r.argv[0] === "bash" && r.argv[3] === "prepare-host.sh");
  expect(prepareHost?.opts).toMatchObject({ sudo: true, timeoutMs: STEP_TIMEOUT_MS.prepareHost });
});
