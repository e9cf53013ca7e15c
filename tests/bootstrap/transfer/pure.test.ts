import { checkRemoteDir } from "../../../common/remote-dir";
// The transfer engine's pure decisions: paths, ranges, remote command lines, the planner, error mapping.

import { uploadErrorOf } from "../../../bootstrap/transfer/errors";
import { staleKeyDirs } from "../../../bootstrap/transfer/key-dir";
import {
  type BundleFile,
  parseManifest,
  serializeManifest,
  sha256Of,
} from "../../../bootstrap/transfer/manifest";
import { isTransientPath, stagedPathOf, validateRelPath, versionOf } from "../../../bootstrap/transfer/paths";
import { hashRequestsFor, planSync, type RemoteView, trustedHash } from "../../../bootstrap/transfer/plan";
import {
  blockSizeFor,
  channelCountOf,
  chooseParallelism,
  dirLevels,
  MiB,
  pieceSizeFor,
  rangesToResend,
  splitPieces,
} from "../../../bootstrap/transfer/ranges";
import {
  commitText,
  hashCommand,
  hashRequestText,
  opLine,
  opsText,
  parseCommitOutput,
  parseDiskFree,
  parseHashOutput,
  parseState,
  type RemoteFileStat,
  STATE_SCRIPT,
  stateCommand,
} from "../../../bootstrap/transfer/remote-scripts";
import { SftpOpError } from "../../../bootstrap/transfer/uploader";
import { OdapiError } from "../../../common/errors";
import { RateMeter } from "../../../common/rate-meter";

const H = (c: string) => c.repeat(64);

function file(relPath: string, content: string, mode = 0o644): BundleFile {
  const buf = Buffer.from(content);
  return { relPath, size: buf.length, sha256: sha256Of(buf), mode, content: buf };
}

function view(files: Record<string, RemoteFileStat & { sha256?: string }>): RemoteView {
  const m = new Map<string, RemoteFileStat>();
  const manifest: RemoteView["manifest"] = { format: 1, files: {} };
  for (const [p, st] of Object.entries(files)) {
    m.set(p, { size: st.size, mtime: st.mtime, nlink: st.nlink, mode: st.mode });
    if (st.sha256) manifest.files[p] = { sha256: st.sha256, size: st.size, mtime: st.mtime };
  }
  return { files: m, manifest };
}

const stat = (
  size: number,
  sha256?: string,
  mtime = "100.5",
  nlink = 1,
): RemoteFileStat & { sha256?: string } => ({
  size,
  mtime,
  nlink,
  mode: 0o644,
  sha256,
});

describe("paths", () => {
  test("model files stage in a non-numeric sibling dir, other files under a dot-temp name", () => {
    expect(stagedPathOf("models/ssd/1/variables/v.data")).toBe("models/ssd/.staging-1/variables/v.data");
    expect(stagedPathOf("config/models.config")).toBe("config/.models.config.odapi-part");
    expect(stagedPathOf("start.sh")).toBe(".start.sh.odapi-part");
    expect(versionOf("models/ssd/12/saved_model.pb")).toEqual({
      model: "ssd",
      version: "12",
      rest: "saved_model.pb",
    });
    expect(versionOf("models/ssd/latest/saved_model.pb")).toBeUndefined();
    expect(isTransientPath("models/ssd/.staging-1/x")).toBe(true);
    expect(isTransientPath("models/ssd/.old-3/x")).toBe(true);
    expect(isTransientPath("config/.a.odapi-part")).toBe(true);
    expect(isTransientPath("models/ssd/1/x")).toBe(false);
  });

  test.each([
    "",
    "/etc/passwd",
    "models/../x",
    "a//b",
    "a/./b",
    "a\nb",
    "a\tb",
    "a\\b",
    "-rf",
    "(x",
    "!x",
    "a/-b",
    ".odapi/manifest.json",
  ])("rejects the bundle path %j", (p) => {
    expect(() => validateRelPath(p)).toThrow(OdapiError);
  });

  test("accepts ordinary paths and rejects relative or root remote dirs", () => {
    expect(() => validateRelPath("models/ssd/1/variables/variables.data-00000-of-00001")).not.toThrow();
    expect(() => validateRelPath("config/with space.txt")).not.toThrow();
    expect(() => checkRemoteDir("/opt/odapi")).not.toThrow();
    for (const bad of ["opt/odapi", "/", "//", "/opt/../etc", "/a\nb"]) {
      expect(() => checkRemoteDir(bad)).toThrow(OdapiError);
    }
  });
});

describe("ranges", () => {
  test("block size: 128 KiB minimum, at most ~512 blocks per file, 64 KiB aligned", () => {
    expect(blockSizeFor(0)).toBe(128 * 1024);
    expect(blockSizeFor(24 * MiB)).toBe(128 * 1024);
    expect(blockSizeFor(150_000_000)).toBe(320 * 1024);
    expect(Math.ceil(150_000_000 / blockSizeFor(150_000_000))).toBeLessThanOrEqual(512);
  });

  test("only missing or different blocks are re-sent, merged when adjacent; the short last block counts", () => {
    const local = ["a", "b", "c", "d", "e"];
    expect(rangesToResend(450, 100, local, ["a", "x", "c", "d"])).toEqual([
      { start: 100, end: 200 },
      { start: 400, end: 450 },
    ]);
    expect(rangesToResend(450, 100, local, ["a", "b", "c", "d", "e"])).toEqual([]);
    expect(rangesToResend(450, 100, local, [undefined, undefined, "c"])).toEqual([
      { start: 0, end: 200 },
      { start: 300, end: 450 },
    ]);
  });

  test("pieces: ranges cut to the piece size, largest file first in offset order, whole-file flag, empty files kept", () => {
    const pieces = splitPieces(
      [
        { file: "big", size: 10, ranges: [{ start: 0, end: 10 }] },
        { file: "empty", size: 0, ranges: [{ start: 0, end: 0 }] },
        { file: "small", size: 3, ranges: [{ start: 0, end: 3 }] },
      ],
      4,
    );
    expect(pieces.map((p) => [p.file, p.start, p.end, p.whole])).toEqual([
      ["big", 0, 4, false],
      ["big", 4, 8, false],
      ["big", 8, 10, false],
      ["small", 0, 3, true],
      ["empty", 0, 0, true],
    ]);
    expect(pieceSizeFor(200 * MiB, 1)).toBe(12.5 * MiB);
    expect(pieceSizeFor(200 * MiB, 10)).toBe(4 * MiB);
    expect(pieceSizeFor(1 * MiB, 8)).toBe(4 * MiB);
    expect(pieceSizeFor(100_000 * MiB, 2)).toBe(64 * MiB);
  });

  test("parallelism follows the round trip; tiny uploads use one channel; the flag overrides", () => {
    expect(chooseParallelism(0.3, 200 * MiB, 5)).toBe(1);
    expect(chooseParallelism(6, 200 * MiB, 5)).toBe(2);
    expect(chooseParallelism(20, 200 * MiB, 5)).toBe(3);
    expect(chooseParallelism(80, 200 * MiB, 5)).toBe(10);
    expect(chooseParallelism(300, 200 * MiB, 5)).toBe(16);
    expect(chooseParallelism(80, 1000, 2)).toBe(1);
    expect(channelCountOf("auto")).toBeUndefined();
    expect(channelCountOf(undefined)).toBeUndefined();
    expect(channelCountOf(6)).toBe(6);
    expect(() => channelCountOf(0)).toThrow(OdapiError);
    expect(() => channelCountOf(1.5)).toThrow(OdapiError);
  });

  test("dir levels list ancestors shallowest first", () => {
    expect(dirLevels(["models/a/.staging-1/variables", "models/b/.staging-2", "."])).toEqual([
      ["models"],
      ["models/a", "models/b"],
      ["models/a/.staging-1", "models/b/.staging-2"],
      ["models/a/.staging-1/variables"],
    ]);
  });

  test("rate meter: bytes per second over the recent window", () => {
    const m = new RateMeter(1000);
    expect(m.update(0, 0)).toBe(0);
    expect(m.update(5_000_000, 500)).toBe(10_000_000);
    m.update(10_000_000, 1000);
    m.update(10_000_000, 1600); // stalled: the rate drops once old samples leave the window
    expect(m.update(10_000_000, 2700)).toBe(0);
  });
});

describe("remote command lines", () => {
  test("argv arrays are fixed scripts plus the dir: nothing user-supplied inside the script", () => {
    expect(stateCommand("/opt/my dir")).toEqual(["bash", "-c", STATE_SCRIPT, "odapi-state", "/opt/my dir"]);
    expect(hashCommand("/x")[3]).toBe("odapi-hash");
    expect(STATE_SCRIPT).toContain("find . -path ./.odapi -prune -o -type f -printf '%s %T@ %n %m %P\\n'");
  });

  test("stdin lines for hash requests and ops, exactly", () => {
    expect(
      hashRequestText([
        { kind: "full", path: "models/a/1/x y" },
        { kind: "blocks", path: "models/a/.staging-1/v", blockSize: 131072 },
      ]),
    ).toBe("F\tmodels/a/1/x y\nB\t131072\tmodels/a/.staging-1/v\n");
    expect(opLine({ op: "chmod", mode: 0o755, path: "start.sh" })).toBe("chmod\t0755\tstart.sh");
    expect(opLine({ op: "swap", staging: "m/a/.staging-1", live: "m/a/1", retired: "m/a/.old-1" })).toBe(
      "swap\tm/a/.staging-1\tm/a/1\tm/a/.old-1",
    );
    expect(
      opsText([
        { op: "ln", from: "a", to: "b" },
        { op: "trunc", size: 5, path: "c" },
      ]),
    ).toBe("ln\ta\tb\ntrunc\t5\tc\n");
    expect(
      commitText({
        verify: [{ sha256: H("a"), staged: ".s.odapi-part", final: "s" }],
        ops: [{ op: "mv", from: ".s.odapi-part", to: "s" }],
        kept: { k: { sha256: H("b"), size: 1, mtime: "2.0" } },
      }),
    ).toBe(
      `${H("a")}\t.s.odapi-part\ts\n--odapi-ops--\nmv\t.s.odapi-part\ts\n--odapi-kept--\n"k":{"sha256":"${H("b")}","size":1,"mtime":"2.0"}\n--odapi-end--\n`,
    );
  });

  test("parsers: state listing with spaces in names, df, hashes from openssl and sha256sum, blocks, commit", () => {
    const state = parseState(
      `{"format":1,"files":{}}\n--odapi-listing--\n10 1700000000.1234567890 1 644 models/a/1/x y\n0 5 2 755 start.sh\ngarbage\n--odapi-df--\n/dev/sda1 1000 10 990 2% /\n`,
    );
    expect(state.manifestText).toBe('{"format":1,"files":{}}');
    expect([...state.files]).toEqual([
      ["models/a/1/x y", { size: 10, mtime: "1700000000.1234567890", nlink: 1, mode: 0o644 }],
      ["start.sh", { size: 0, mtime: "5", nlink: 2, mode: 0o755 }],
    ]);
    expect(state.freeBytes).toBe(990 * 1024);
    expect(
      parseDiskFree("Filesystem 1024-blocks Used Available Capacity Mounted on\ntmpfs 2048 0 2048 0% /x\n"),
    ).toBe(2048 * 1024);
    const h = parseHashOutput(
      `${H("a")} *models/a/1/x y\n${H("b")}  config/c\nS 10 17.5 1 models/a/1/x y\nB 1 ${H("d")} p\nB 0 ${H("c")} p\n`,
    );
    expect(h.full.get("models/a/1/x y")).toBe(H("a"));
    expect(h.full.get("config/c")).toBe(H("b"));
    expect(h.stats.get("models/a/1/x y")).toEqual({ size: 10, mtime: "17.5", nlink: 1 });
    expect(h.blocks.get("p")).toEqual([H("c"), H("d")]);
    expect(parseCommitOutput("MISMATCH a/b\nMISMATCH c\n")).toEqual({
      committed: false,
      mismatches: ["a/b", "c"],
    });
    expect(parseCommitOutput("COMMITTED\n")).toEqual({ committed: true, mismatches: [] });
  });

  test("manifest: unreadable text means no manifest; serialization is sorted and round-trips", () => {
    expect(parseManifest("")).toEqual({ format: 1, files: {} });
    expect(parseManifest("{not json")).toEqual({ format: 1, files: {} });
    expect(parseManifest('{"format":2,"files":{}}')).toEqual({ format: 1, files: {} });
    const text = `{"format":1,"files":{"b":{"sha256":"${H("b")}","size":1,"mtime":"1"},"bad":{"sha256":"xyz","size":1,"mtime":"1"},"a":{"sha256":"${H("a")}","size":2,"mtime":"2"}}}`;
    const m = parseManifest(text);
    expect(Object.keys(m.files)).toEqual(["b", "a"]);
    expect(Object.keys(JSON.parse(serializeManifest(m)).files)).toEqual(["a", "b"]);
    expect(parseManifest(serializeManifest(m))).toEqual(m);
  });
});

describe("planner", () => {
  const pb = file("models/ssd/1/saved_model.pb", "graph");
  const vars = file("models/ssd/1/variables/v.data", "weights");
  const cfg = file("config/models.config", "cfg");

  test("empty remote: everything is sent into staging, verified, then swapped / renamed into place", () => {
    const plan = planSync([pb, vars, cfg], view({}));
    expect(plan.uploads.map((u) => u.remotePath)).toEqual([
      "models/ssd/.staging-1/saved_model.pb",
      "models/ssd/.staging-1/variables/v.data",
      "config/.models.config.odapi-part",
    ]);
    expect(plan.dirs).toEqual(["config", "models/ssd/.staging-1", "models/ssd/.staging-1/variables"]);
    expect(plan.prepare).toEqual([]);
    expect(plan.verify).toHaveLength(3);
    expect(plan.finalize.map(opLine)).toEqual([
      "chmod\t0644\tmodels/ssd/.staging-1/saved_model.pb",
      "chmod\t0644\tmodels/ssd/.staging-1/variables/v.data",
      "swap\tmodels/ssd/.staging-1\tmodels/ssd/1\tmodels/ssd/.old-1",
      "chmod\t0644\tconfig/.models.config.odapi-part",
      "mv\tconfig/.models.config.odapi-part\tconfig/models.config",
    ]);
    expect(plan.sendBytes).toBe(pb.size + vars.size + cfg.size);
  });

  test("no-op: trusted manifest entries mean nothing to hash, send or rename", () => {
    const v = view({
      [pb.relPath]: stat(pb.size, pb.sha256),
      [vars.relPath]: stat(vars.size, vars.sha256),
      [cfg.relPath]: stat(cfg.size, cfg.sha256),
    });
    expect(hashRequestsFor([pb, vars, cfg], v)).toEqual([]);
    const plan = planSync([pb, vars, cfg], v);
    expect(plan).toMatchObject({ uploads: [], verify: [], finalize: [], prepare: [], sendBytes: 0 });
    expect(plan.skipped).toHaveLength(3);
    expect(Object.keys(plan.kept).sort()).toEqual([cfg.relPath, pb.relPath, vars.relPath].sort());
  });

  test("a manifest entry whose mtime changed is not trusted: the file is hashed remotely first", () => {
    const v = view({ [cfg.relPath]: stat(cfg.size, cfg.sha256) });
    (v.files.get(cfg.relPath) as RemoteFileStat).mtime = "999.1";
    expect(trustedHash(v, cfg.relPath)).toBeUndefined();
    expect(hashRequestsFor([cfg], v)).toEqual([{ kind: "full", path: cfg.relPath }]);
    const same = planSync([cfg], v, {
      full: new Map([[cfg.relPath, cfg.sha256]]),
      stats: new Map(),
      blocks: new Map(),
    });
    expect(same.skipped).toEqual([cfg]);
    const other = planSync([cfg], v, {
      full: new Map([[cfg.relPath, H("f")]]),
      stats: new Map(),
      blocks: new Map(),
    });
    expect(other.uploads).toHaveLength(1);
  });

  test("one changed file of a live version: only it is sent, the rest is hard-linked into staging", () => {
    const newPb = file(pb.relPath, "new graph");
    const v = view({ [pb.relPath]: stat(pb.size, pb.sha256), [vars.relPath]: stat(vars.size, vars.sha256) });
    const plan = planSync([newPb, vars], v);
    expect(plan.uploads.map((u) => u.remotePath)).toEqual(["models/ssd/.staging-1/saved_model.pb"]);
    expect(plan.prepare).toEqual([
      { op: "ln", from: vars.relPath, to: "models/ssd/.staging-1/variables/v.data" },
    ]);
    expect(plan.finalize.at(-1)).toEqual({
      op: "swap",
      staging: "models/ssd/.staging-1",
      live: "models/ssd/1",
      retired: "models/ssd/.old-1",
    });
    expect(plan.kept).toEqual({}); // the replaced version's entries are rewritten after the swap
  });

  test("resume: a partial staged file is compared per block and only bad ranges are sent", () => {
    const big = file("models/ssd/1/variables/v.data", "x".repeat(300 * 1024));
    const staged = "models/ssd/.staging-1/variables/v.data";
    const v = view({ [staged]: stat(200 * 1024) });
    expect(hashRequestsFor([big], v)).toEqual([{ kind: "blocks", path: staged, blockSize: 128 * 1024 }]);
    const local = ["b0", "b1", "b2"];
    const plan = planSync(
      [big],
      v,
      { full: new Map(), stats: new Map(), blocks: new Map([[staged, ["b0", "zz"]]]) },
      new Map([[big.relPath, local]]),
    );
    expect(plan.uploads).toEqual([
      { file: big, remotePath: staged, ranges: [{ start: 128 * 1024, end: 300 * 1024 }] },
    ]);
    expect(plan.prepare).toEqual([]);
  });

  test("a staged file linked to a live file is never written through: removed and re-linked or re-sent", () => {
    const staged = "models/ssd/.staging-1/saved_model.pb";
    const v = view({ [staged]: stat(5, undefined, "1", 2) });
    expect(hashRequestsFor([pb], v)).toEqual([]);
    const plan = planSync([pb], v);
    expect(plan.prepare).toEqual([{ op: "rm", path: staged }]);
    expect(plan.uploads.map((u) => u.remotePath)).toEqual([staged]);
  });

  test("leftovers: stale staged files are removed; an unchanged version's staging dir is cleaned up", () => {
    const v = view({
      [pb.relPath]: stat(pb.size, pb.sha256),
      [vars.relPath]: stat(vars.size, vars.sha256),
      "models/ssd/.staging-1/old.bin": stat(3),
      "models/x/.staging-2/gone.bin": stat(3),
    });
    const plan = planSync([pb, vars], v);
    expect(plan.finalize).toEqual([{ op: "rmrf", path: "models/ssd/.staging-1" }]);
    const v2 = view({ "models/ssd/.staging-1/old.bin": stat(3) });
    expect(planSync([pb], v2).prepare).toEqual([{ op: "rm", path: "models/ssd/.staging-1/old.bin" }]);
  });

  test("a mode change alone is a chmod, not a transfer; identical content elsewhere is linked, not sent", () => {
    const script = file("start.sh", "#!/bin/sh\n", 0o755);
    const v = view({ "start.sh": stat(script.size, script.sha256) });
    const plan = planSync([script], v);
    expect(plan.finalize).toEqual([{ op: "chmod", mode: 0o755, path: "start.sh" }]);
    expect(plan.sendBytes).toBe(0);
    const v2 = file("models/ssd/2/variables/v.data", "weights");
    const reuse = planSync([v2], view({ [vars.relPath]: stat(vars.size, vars.sha256) }));
    expect(reuse.prepare).toEqual([
      { op: "ln", from: vars.relPath, to: "models/ssd/.staging-2/variables/v.data" },
    ]);
    expect(reuse.sendBytes).toBe(0);
  });
});

describe("planner: modes of hard-link sources, stale versions and --prune", () => {
  test("identical content with another mode is sent, not linked (a link would change the live file's mode)", () => {
    const exe = file("models/ssd/2/assets/run.sh", "#!/bin/sh\n", 0o755);
    const live = { ...stat(exe.size, exe.sha256), mode: 0o644 };
    const differentMode = planSync([exe], view({ "models/ssd/1/assets/run.sh": live }));
    expect(differentMode.prepare).toEqual([]);
    expect(differentMode.sendBytes).toBe(exe.size);
    const sameMode = planSync([exe], view({ "models/ssd/1/assets/run.sh": { ...live, mode: 0o755 } }));
    expect(sameMode.prepare).toEqual([
      { op: "ln", from: "models/ssd/1/assets/run.sh", to: "models/ssd/.staging-2/assets/run.sh" },
    ]);
  });

  const pb2 = file("models/ssd/2/saved_model.pb", "graph v2");
  const host = view({
    "models/ssd/1/saved_model.pb": stat(5, H("1")),
    "models/ssd/3/saved_model.pb": stat(5, H("3")),
    "models/ssd/3/variables/v.data": stat(7, H("4")),
    "models/effdet/1/saved_model.pb": stat(6, H("5")), // not in this bundle (e.g. prepared on the host)
  });

  test("versions of the bundle's models that it lacks are reported; the newer one outranks; nothing removed", () => {
    const plan = planSync([pb2], host);
    expect(plan.stale).toEqual([
      { dir: "models/ssd/1", outranks: false },
      { dir: "models/ssd/3", outranks: true },
    ]);
    expect(plan.prune).toBe(false);
    expect(plan.finalize.filter((o) => o.op === "rmrf")).toEqual([]);
    expect(Object.keys(plan.kept).sort()).toEqual([
      "models/effdet/1/saved_model.pb",
      "models/ssd/1/saved_model.pb",
      "models/ssd/3/saved_model.pb",
      "models/ssd/3/variables/v.data",
    ]);
  });

  test("--prune removes them last, after the new version is in place, and drops them from the manifest", () => {
    const plan = planSync([pb2], host, undefined, new Map(), { prune: true });
    expect(plan.prune).toBe(true);
    const ops = plan.finalize.map((o) => `${o.op} ${"path" in o ? o.path : "live" in o ? o.live : ""}`);
    expect(ops.slice(-2)).toEqual(["rmrf models/ssd/1", "rmrf models/ssd/3"]);
    expect(ops.indexOf("swap models/ssd/2")).toBeLessThan(ops.indexOf("rmrf models/ssd/1"));
    expect(Object.keys(plan.kept)).toEqual(["models/effdet/1/saved_model.pb"]);
  });

  test("a bundle without versions of a model never touches that model's dirs", () => {
    const cfg = file("config/models.config", "x");
    const plan = planSync([cfg], host, undefined, new Map(), { prune: true });
    expect(plan.stale).toEqual([]);
    expect(plan.finalize.filter((o) => o.op === "rmrf")).toEqual([]);
  });
});

describe("upload errors", () => {
  const ctx = {
    host: "h",
    user: "ubuntu",
    sentBytes: 5e6,
    totalBytes: 10e6,
    connectionLost: false,
    aborted: false,
  };
  test("lost connection, cancel, permission, disk full and vanished files each get their own message and fix", () => {
    const lost = uploadErrorOf(new Error("x"), { ...ctx, connectionLost: true });
    expect(lost).toMatchObject({ exitCode: 3 });
    expect(lost.message).toMatch(/connection to h was lost during the upload \(5\.0 MB of 10\.0 MB sent\)/);
    expect(lost.remedy).toMatch(/rerun/);
    expect(uploadErrorOf(new Error("x"), { ...ctx, aborted: true }).message).toMatch(/cancelled/);
    const perm = uploadErrorOf(new SftpOpError("open", "/opt/x", 3, "Permission denied"), ctx);
    expect(perm).toMatchObject({ exitCode: 7 });
    expect(perm.remedy).toMatch(/--remote-dir that ubuntu can write/);
    const full = uploadErrorOf(new SftpOpError("write", "/opt/x", 4, "Failure"), {
      ...ctx,
      freeBytesAfter: 1000,
    });
    expect(full.message).toMatch(/disk on h is full/);
    const fail = uploadErrorOf(new SftpOpError("write", "/opt/x", 4, "Failure"), {
      ...ctx,
      freeBytesAfter: 9e9,
    });
    expect(fail.message).toMatch(/writing to h failed/);
    expect(uploadErrorOf(new SftpOpError("open", "/opt/x", 2, "No such file"), ctx).message).toMatch(
      /vanished/,
    );
  });
});

describe("staleKeyDirs", () => {
  const alive = (pid: number) => pid === 100;
  const now = 10 * 24 * 3600 * 1000;
  test("a key dir is stale when its owner process is gone, an owner-less one after a day", () => {
    expect(
      staleKeyDirs(
        [
          { name: "odapi-sftp-100-abcdef", mtimeMs: 0 },
          { name: "odapi-sftp-200-abcdef", mtimeMs: now },
          { name: "odapi-sftp-Xy12ab", mtimeMs: now - 2 * 24 * 3600 * 1000 },
          { name: "odapi-sftp-Zz99cd", mtimeMs: now - 60_000 },
          { name: "other-300-abcdef", mtimeMs: 0 },
        ],
        alive,
        now,
      ),
    ).toEqual(["odapi-sftp-200-abcdef", "odapi-sftp-Xy12ab"]);
  });
});
