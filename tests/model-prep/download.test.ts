import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { OdapiError } from "../../common/errors";
import { RateMeter } from "../../common/rate-meter";
import { fetchModel } from "../../model-prep/download";
import { cachePaths, defaultCacheDir } from "../../model-prep/download/cache";
import { lockCacheEntry } from "../../model-prep/download/cache-lock";
import { findSavedModelDir, tarExtractArgv } from "../../model-prep/download/extract";
import { rangeHeaders, resumeDecision, validatorOf } from "../../model-prep/download/resume";
import { makeTempDir, removeDir } from "../helpers/tmp";

describe("download decisions (pure)", () => {
  it("measures the rate over a sliding window", () => {
    const m = new RateMeter(1000);
    expect(m.update(0, 0)).toBe(0);
    expect(m.update(500, 500)).toBe(1000);
    expect(m.update(1000, 1000)).toBe(1000);
    // After the window slides past the slow start, the rate reflects the recent burst.
    expect(m.update(5000, 2000)).toBe(4000);
  });

  it("asks for the missing tail only when a part file exists", () => {
    expect(rangeHeaders(0)).toEqual({});
    expect(rangeHeaders(1234)).toEqual({ Range: "bytes=1234-" });
    expect(rangeHeaders(1234, '"abc"')).toEqual({ Range: "bytes=1234-", "If-Range": '"abc"' });
    expect(rangeHeaders(0, '"abc"')).toEqual({});
    expect(validatorOf({ etag: '"abc"', lastModified: "Tue, 24 Nov 2026 08:00:00 GMT" })).toBe('"abc"');
    expect(validatorOf({ etag: 'W/"abc"', lastModified: "Tue, 24 Nov 2026 08:00:00 GMT" })).toBe(
      "Tue, 24 Nov 2026 08:00:00 GMT",
    );
    expect(validatorOf({})).toBeUndefined();
  });

  it("appends on a matching 206, restarts on 200, completes on 416 with the same size", () => {
    expect(resumeDecision(100, 206, { contentRange: "bytes 100-199/200" })).toEqual({
      action: "append",
      totalBytes: 200,
    });
    expect(resumeDecision(100, 200, { contentLength: "200" })).toEqual({
      action: "restart",
      totalBytes: 200,
    });
    expect(resumeDecision(0, 200, {})).toEqual({ action: "restart", totalBytes: undefined });
    expect(resumeDecision(200, 416, { contentRange: "bytes */200" })).toEqual({ action: "complete" });
    expect(resumeDecision(150, 416, { contentRange: "bytes */200" })).toEqual({ action: "restart" });
  });

  it("rejects a 206 for the wrong offset and maps HTTP errors to clear kinds", () => {
    expect(() => resumeDecision(100, 206, { contentRange: "bytes 0-199/200" })).toThrow(/unexpected range/);
    expect(() => resumeDecision(0, 404, {})).toThrow(/HTTP 404/);
    const denied = (() => {
      try {
        resumeDecision(0, 403, {});
      } catch (e) {
        return e as OdapiError;
      }
    })();
    expect(denied?.exitCode).toBe(4);
    expect(denied?.remedy).toMatch(/--saved-model/);
  });

  it("builds the tar argv and cache paths", () => {
    expect(tarExtractArgv("/c/m.tar.gz", "/c/x")).toEqual(["tar", "-xzf", "/c/m.tar.gz", "-C", "/c/x"]);
    expect(cachePaths("/cache", "ssd").archive).toBe("/cache/ssd/model.tar.gz");
    expect(defaultCacheDir({}, "/home/u")).toBe("/home/u/.cache/object-detection-api/models");
    expect(defaultCacheDir({ XDG_CACHE_HOME: "/x" }, "/home/u")).toBe("/x/object-detection-api/models");
    expect(defaultCacheDir({ ODAPI_CACHE_DIR: "/o" }, "/home/u")).toBe("/o");
  });
});

/** A tar.gz like Kaggle's: <root>/saved_model.pb + variables/, bigger than one TCP chunk. */
function buildArchive(dir: string, nested: boolean): Buffer {
  const src = path.join(dir, "src");
  const model = nested ? path.join(src, "my_model", "saved_model") : src;
  mkdirSync(path.join(model, "variables"), { recursive: true });
  writeFileSync(path.join(model, "saved_model.pb"), "graph");
  // Incompressible data, so the archive is large enough to be cut in the middle.
  writeFileSync(path.join(model, "variables", "variables.data-00000-of-00001"), randomBytes(256 * 1024));
  const out = path.join(dir, "model.tar.gz");
  execFileSync("tar", ["-czf", out, "-C", src, "."]);
  return readFileSync(out);
}

interface TestServer {
  url: string;
  requests: { path: string; range?: string; ifRange?: string }[];
  /** Next response on /model: cut the connection after this many bytes. */
  cutAfter?: number;
  ignoreRange?: boolean;
  body: Buffer;
  close(): Promise<void>;
}

async function startServer(body: Buffer): Promise<TestServer> {
  const state = { requests: [] as TestServer["requests"], body } as TestServer;
  const server = http.createServer((req, res) => {
    state.requests.push({
      path: req.url ?? "",
      range: req.headers.range,
      ifRange: req.headers["if-range"] as string | undefined,
    });
    if (req.url === "/api/v1/models/o/m/tensorFlow2/v/1/download") {
      // Kaggle answers with a redirect to storage.
      res.writeHead(302, { Location: "/storage/model.tar.gz" }).end();
      return;
    }
    if (req.url !== "/storage/model.tar.gz") {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const full = state.body;
    const etag = `"${createHash("sha1").update(full).digest("hex")}"`;
    // RFC 9110 If-Range: a validator that no longer matches means "send the whole new file".
    const ifRange = req.headers["if-range"];
    const rangeValid = ifRange === undefined || ifRange === etag;
    let start = 0;
    if (m && !state.ignoreRange && rangeValid) {
      start = Number(m[1]);
      if (start >= full.length) {
        res.writeHead(416, { "Content-Range": `bytes */${full.length}` }).end();
        return;
      }
      res.writeHead(206, {
        "Content-Range": `bytes ${start}-${full.length - 1}/${full.length}`,
        "Content-Length": full.length - start,
        ETag: etag,
      });
    } else {
      res.writeHead(200, { "Content-Length": full.length, ETag: etag });
    }
    const slice = full.subarray(start);
    if (state.cutAfter !== undefined) {
      const n = state.cutAfter;
      state.cutAfter = undefined;
      res.write(slice.subarray(0, n), () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}

describe("fetchModel against a local HTTP server", () => {
  let dir: string;
  let archive: Buffer;
  let server: TestServer;
  const kaggleStyle = () => `${server.url}/api/v1/models/o/m/tensorFlow2/v/1/download`;

  beforeEach(async () => {
    dir = makeTempDir("odapi-dl-");
    archive = buildArchive(dir, true);
    server = await startServer(archive);
  });
  afterEach(async () => {
    await server.close();
    removeDir(dir);
  });

  it("downloads through the redirect, records the sha256, extracts the nested SavedModel", async () => {
    const cacheDir = path.join(dir, "cache");
    const progress: number[] = [];
    const res = await fetchModel("m", kaggleStyle(), {
      cacheDir,
      onProgress: (p) => progress.push(p.receivedBytes),
    });
    const want = createHash("sha256").update(archive).digest("hex");
    expect(res).toMatchObject({
      sha256: want,
      fromCache: false,
      resumed: false,
      downloadedBytes: archive.length,
    });
    expect(readFileSync(path.join(cacheDir, "m", "model.tar.gz.sha256"), "utf8").trim()).toBe(want);
    expect(readFileSync(path.join(res.savedModelDir, "saved_model.pb"), "utf8")).toBe("graph");
    expect(existsSync(path.join(res.savedModelDir, "variables"))).toBe(true);
    expect(progress.at(-1)).toBe(archive.length);

    // Reuse: no request, same sha256.
    const before = server.requests.length;
    const again = await fetchModel("m", kaggleStyle(), { cacheDir });
    expect(again).toMatchObject({ sha256: want, fromCache: true, downloadedBytes: 0 });
    expect(server.requests.length).toBe(before);
  });

  it("resumes an interrupted download with a Range request", async () => {
    const cacheDir = path.join(dir, "cache");
    server.cutAfter = 50_000;
    await expect(fetchModel("m", kaggleStyle(), { cacheDir })).rejects.toThrow(/interrupted|stopped at/);
    const part = path.join(cacheDir, "m", "model.tar.gz.part");
    const partBytes = readFileSync(part).length;
    expect(partBytes).toBeGreaterThan(0);
    expect(partBytes).toBeLessThan(archive.length);

    const res = await fetchModel("m", kaggleStyle(), { cacheDir });
    expect(res.resumed).toBe(true);
    expect(res.downloadedBytes).toBe(archive.length - partBytes);
    expect(server.requests.at(-1)).toEqual({
      path: "/storage/model.tar.gz",
      range: `bytes=${partBytes}-`,
      ifRange: `"${createHash("sha1").update(archive).digest("hex")}"`,
    });
    expect(res.sha256).toBe(createHash("sha256").update(archive).digest("hex"));
    expect(existsSync(part)).toBe(false);
  });

  it("a file that changed between attempts comes back whole, not spliced", async () => {
    const cacheDir = path.join(dir, "cache");
    server.cutAfter = 40_000;
    await expect(fetchModel("m", kaggleStyle(), { cacheDir })).rejects.toBeInstanceOf(OdapiError);
    const changed = buildArchive(path.join(dir, "v2"), false);
    server.body = changed;
    const res = await fetchModel("m", kaggleStyle(), { cacheDir });
    expect(res.resumed).toBe(false);
    expect(res.sha256).toBe(createHash("sha256").update(changed).digest("hex"));
    expect(existsSync(path.join(cacheDir, "m", "model.tar.gz.part.validator"))).toBe(false);
  });

  it("starts over when the server ignores Range", async () => {
    const cacheDir = path.join(dir, "cache");
    server.cutAfter = 30_000;
    await expect(fetchModel("m", kaggleStyle(), { cacheDir })).rejects.toBeInstanceOf(OdapiError);
    server.ignoreRange = true;
    const res = await fetchModel("m", kaggleStyle(), { cacheDir });
    expect(res.resumed).toBe(false);
    expect(res.sha256).toBe(createHash("sha256").update(archive).digest("hex"));
  });

  it("refuses a cached archive whose sha256 changed; --refresh downloads it again", async () => {
    const cacheDir = path.join(dir, "cache");
    await fetchModel("m", kaggleStyle(), { cacheDir });
    const cached = path.join(cacheDir, "m", "model.tar.gz");
    const bytes = readFileSync(cached);
    bytes[bytes.length - 10] ^= 0xff;
    writeFileSync(cached, bytes);
    await expect(fetchModel("m", kaggleStyle(), { cacheDir })).rejects.toThrow(
      /does not match its recorded sha256/,
    );
    const res = await fetchModel("m", kaggleStyle(), { cacheDir, refresh: true });
    expect(res.fromCache).toBe(false);
  });

  it("refuses a new download that differs from the recorded sha256", async () => {
    const cacheDir = path.join(dir, "cache");
    await fetchModel("m", kaggleStyle(), { cacheDir });
    server.body = Buffer.concat([archive, Buffer.alloc(10)]);
    await expect(fetchModel("m", kaggleStyle(), { cacheDir, refresh: true })).rejects.toThrow(
      /upstream file changed/,
    );
  });

  it("says 404 and a non-archive clearly", async () => {
    const cacheDir = path.join(dir, "cache");
    await expect(fetchModel("m", `${server.url}/nope`, { cacheDir })).rejects.toThrow(/HTTP 404/);
    server.body = Buffer.from("not a tarball");
    await expect(fetchModel("x", kaggleStyle(), { cacheDir })).rejects.toThrow(/extracting .* failed/);
    expect(existsSync(path.join(cacheDir, "x", "saved_model"))).toBe(false);
  });

  it("one process per cache entry; a dead holder's lock is taken over", async () => {
    const entry = path.join(dir, "cache", "m");
    mkdirSync(entry, { recursive: true });
    const release = await lockCacheEntry(entry, "m");
    await expect(fetchModel("m", kaggleStyle(), { cacheDir: path.join(dir, "cache") })).rejects.toThrow(
      `another odapi process (pid ${process.pid}) is downloading m`,
    );
    await release();
    // A pid that cannot exist (above Linux's pid_max) stands for a crashed run.
    writeFileSync(path.join(entry, ".lock"), "4194305\n");
    const res = await fetchModel("m", kaggleStyle(), { cacheDir: path.join(dir, "cache") });
    expect(res.fromCache).toBe(false);
    expect(existsSync(path.join(entry, ".lock"))).toBe(false);
  });

  it("finds the shallowest saved_model.pb", async () => {
    const root = path.join(dir, "tree");
    mkdirSync(path.join(root, "a", "b"), { recursive: true });
    mkdirSync(path.join(root, "c"), { recursive: true });
    writeFileSync(path.join(root, "a", "b", "saved_model.pb"), "");
    writeFileSync(path.join(root, "c", "saved_model.pb"), "");
    expect(await findSavedModelDir(root)).toBe(path.join(root, "c"));
    expect(await findSavedModelDir(path.join(root, "a", "b", ".."))).toBe(path.join(root, "a", "b"));
  });
});
