import { PassThrough } from "node:stream";
import { etaSeconds, formatBytes, progressLine, progressSink, RateMeter } from "../../model-prep/progress";

describe("progress formatting", () => {
  it("formats bytes in binary units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(20 * 1024 * 1024)).toBe("20.0 MiB");
  });

  it("computes ETA only when total and rate are known", () => {
    expect(etaSeconds({ receivedBytes: 10, totalBytes: 110, bytesPerSecond: 30 })).toBe(4);
    expect(etaSeconds({ receivedBytes: 10, bytesPerSecond: 30 })).toBeUndefined();
    expect(etaSeconds({ receivedBytes: 10, totalBytes: 20, bytesPerSecond: 0 })).toBeUndefined();
  });

  it("prints the non-TTY line", () => {
    expect(
      progressLine("ssd", {
        receivedBytes: 12 * 2 ** 20,
        totalBytes: 40 * 2 ** 20,
        bytesPerSecond: 5 * 2 ** 20,
      }),
    ).toBe("ssd: 12.0 MiB / 40.0 MiB, 5.0 MiB/s, ETA 6 s");
    expect(progressLine("x", { receivedBytes: 2048, bytesPerSecond: 1024 })).toBe("x: 2.0 KiB, 1.0 KiB/s");
  });

  it("measures the rate over a sliding window", () => {
    const m = new RateMeter(1000);
    expect(m.update(0, 0)).toBe(0);
    expect(m.update(500, 500)).toBe(1000);
    expect(m.update(1000, 1000)).toBe(1000);
    // After the window slides past the slow start, the rate reflects the recent burst.
    expect(m.update(5000, 2000)).toBe(4000);
  });

  it("writes throttled lines and a final line when not a TTY", () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (c) => {
      text += c;
    });
    const sink = progressSink("dl", out as unknown as NodeJS.WriteStream, 60_000);
    sink.update({ receivedBytes: 1, totalBytes: 4, bytesPerSecond: 1 });
    sink.update({ receivedBytes: 2, totalBytes: 4, bytesPerSecond: 1 });
    sink.update({ receivedBytes: 4, totalBytes: 4, bytesPerSecond: 1 });
    sink.stop();
    expect(text).toBe("dl: 1 B / 4 B, 1 B/s, ETA 3 s\ndl: 4 B / 4 B, 1 B/s, ETA 0 s\n");
  });
});
