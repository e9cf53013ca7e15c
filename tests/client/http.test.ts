import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { getModelStatus } from "../../client/api";
import { httpRequest } from "../../client/http";
import { ExitCode, OdapiError } from "../../common/errors";
import { writeFileAtomic } from "../../common/files";
import { tempDirPerTest } from "../helpers/tmp";

async function rejection(p: Promise<unknown>): Promise<OdapiError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof OdapiError)) throw new Error(`expected an OdapiError, got ${String(e)}`);
  return e;
}

describe("httpRequest", () => {
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/big") {
        res.end(Buffer.alloc(4096, 0x61));
      } else if (req.url === "/html/v1/models/m") {
        res.writeHead(200, { "content-type": "text/html" });
        res.end("<html>welcome to nginx</html>");
      } else {
        res.end("{}");
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it("refuses an oversized answer instead of buffering it", async () => {
    const err = await rejection(httpRequest(new URL(`${url}/big`), { maxBodyBytes: 1000 }));
    expect(err.message).toBe(`${url} sent more than 1000 bytes for /big`);
    expect(err.exitCode).toBe(ExitCode.serverError);
    expect((await httpRequest(new URL(`${url}/big`))).body).toHaveLength(4096);
  });
  it("refuses other URL schemes", async () => {
    const err = await rejection(httpRequest(new URL("ftp://127.0.0.1/x")));
    expect(err.exitCode).toBe(ExitCode.usage);
  });
  it("says when a 200 answer is not TF Serving's JSON", async () => {
    const err = await rejection(getModelStatus(`${url}/html`, "m"));
    expect(err.message).toBe(
      `${url}/html/v1/models/m answered 200 with a body that is not JSON: <html>welcome to nginx</html>`,
    );
  });
});

describe("writeFileAtomic", () => {
  const dir = tempDirPerTest("odapi-atomic-");

  it("creates the directory and replaces the file whole, leaving no temp file", async () => {
    const file = path.join(dir(), "a/b/report.json");
    await writeFileAtomic(file, "one");
    await writeFileAtomic(file, "two");
    expect(readFileSync(file, "utf8")).toBe("two");
    expect(readdirSync(path.dirname(file))).toEqual(["report.json"]);
  });
  it("fails with the path and a fix when the target cannot be written", async () => {
    writeFileSync(path.join(dir(), "plainfile"), "x");
    const err = await rejection(writeFileAtomic(path.join(dir(), "plainfile/out.png"), "data"));
    // mkdir -p over a plain file fails with EEXIST.
    expect(err.message).toBe(`cannot write ${path.join(dir(), "plainfile/out.png")}: EEXIST`);
    expect(err.remedy).toContain("--out");
    expect(readdirSync(dir())).toEqual(["plainfile"]);
  });
});
