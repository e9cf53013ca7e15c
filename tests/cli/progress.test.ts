// Progress formatting (pure) and the plain-line reporter used when stderr is not a TTY.
import { PassThrough } from "node:stream";
import { createProgress, formatEta, progressLine, shouldPrintPlain } from "../../cli/progress";
import { formatBytes } from "../../common/format";

test("bytes use binary units", () => {
  expect([0, 1023, 1536, 10 * 1024 * 1024, 201 * 1000 * 1000, 5 * 1024 ** 4].map(formatBytes)).toEqual([
    "0 B",
    "1023 B",
    "1.50 KiB",
    "10.0 MiB",
    "192 MiB",
    "5.00 TiB",
  ]);
});

test("ETA from the current rate", () => {
  expect(formatEta({ sentBytes: 0, totalBytes: 100, bytesPerSecond: 0 })).toBe("--");
  expect(formatEta({ sentBytes: 100, totalBytes: 100, bytesPerSecond: 0 })).toBe("0s");
  expect(formatEta({ sentBytes: 0, totalBytes: 4200, bytesPerSecond: 100 })).toBe("42s");
  expect(formatEta({ sentBytes: 0, totalBytes: 6500, bytesPerSecond: 100 })).toBe("1m05s");
  expect(formatEta({ sentBytes: 0, totalBytes: 3_900_000, bytesPerSecond: 1000 })).toBe("1h05m");
});

test("one plain line reads like a progress bar", () => {
  expect(
    progressLine("upload", {
      sentBytes: 74 * 1024 ** 2,
      totalBytes: 200 * 1024 ** 2,
      bytesPerSecond: 11.2 * 1024 ** 2,
    }),
  ).toBe("upload  37% 74.0 MiB / 200 MiB  11.2 MiB/s  ETA 12s");
});

test("plain output is sparse: every 10 % or 10 s, and the end", () => {
  const p = (sent: number) => ({ sentBytes: sent, totalBytes: 100, bytesPerSecond: 1 });
  expect(shouldPrintPlain(undefined, p(0), 0)).toBe(true);
  expect(shouldPrintPlain({ percent: 0, at: 0 }, p(9), 1000)).toBe(false);
  expect(shouldPrintPlain({ percent: 0, at: 0 }, p(10), 1000)).toBe(true);
  expect(shouldPrintPlain({ percent: 0, at: 0 }, p(1), 10_000)).toBe(true);
  expect(shouldPrintPlain({ percent: 95, at: 0 }, p(100), 1)).toBe(true);
  expect(shouldPrintPlain({ percent: 100, at: 0 }, p(100), 2)).toBe(false);
});

test("the non-TTY reporter writes those lines to its stream; a disabled one writes nothing", () => {
  const out = new PassThrough();
  let text = "";
  out.on("data", (d) => {
    text += d;
  });
  let now = 0;
  const r = createProgress("upload", {
    stream: out as unknown as NodeJS.WriteStream,
    tty: false,
    now: () => now,
  });
  for (let sent = 0; sent <= 100; sent += 5) {
    now += 100;
    r.update({ sentBytes: sent, totalBytes: 100, bytesPerSecond: 50 });
  }
  r.log("done");
  r.stop();
  const lines = text.trim().split("\n");
  expect(lines).toHaveLength(12); // 0,10,…,100 % and the log line
  expect(lines[0]).toBe("upload   0% 0 B / 100 B  50 B/s  ETA 2s");
  expect(lines[11]).toBe("done");
  const quiet = createProgress("x", { stream: out as unknown as NodeJS.WriteStream, enabled: false });
  text = "";
  quiet.update({ sentBytes: 1, totalBytes: 2, bytesPerSecond: 1 });
  quiet.log("x");
  expect(text).toBe("");
});

test("the TTY reporter draws a bar with bytes, rate and ETA, and logs lines without tearing it", () => {
  const out = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
  Object.assign(out, {
    isTTY: true,
    columns: 120,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
  });
  let text = "";
  out.on("data", (d) => {
    text += d;
  });
  const r = createProgress("upload", { stream: out, tty: true });
  r.update({ sentBytes: 50 * 1024 ** 2, totalBytes: 200 * 1024 ** 2, bytesPerSecond: 10 * 1024 ** 2 });
  r.log("a log line");
  r.update({ sentBytes: 200 * 1024 ** 2, totalBytes: 200 * 1024 ** 2, bytesPerSecond: 10 * 1024 ** 2 });
  r.stop();
  expect(text).toContain("upload [");
  expect(text).toContain("25% | 50.0 MiB / 200 MiB | 10.0 MiB/s | ETA 15s");
  expect(text).toContain("a log line\n");
  expect(text).toContain("100% | 200 MiB / 200 MiB");
});
