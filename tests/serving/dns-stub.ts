// A minimal DNS server on 127.0.0.1 for tests: answers A queries from a table the test can change, so nginx's
// `resolver` path (how the gateway finds the serving container through Docker's DNS) runs for real.
import dgram from "node:dgram";

export interface DnsStub {
  port: number;
  /** name → IPv4; change it to simulate a recreated container getting a new address. */
  records: Map<string, string>;
  queries: string[];
  close(): Promise<void>;
}

/** Reads the QNAME starting at byte 12 of a query; returns the name and the offset after QTYPE/QCLASS. */
function readQuestion(msg: Buffer): { name: string; end: number } {
  const labels: string[] = [];
  let i = 12;
  while (msg[i] !== 0) {
    labels.push(msg.subarray(i + 1, i + 1 + msg[i]).toString("ascii"));
    i += msg[i] + 1;
  }
  return { name: labels.join(".").toLowerCase(), end: i + 1 + 4 };
}

export function answer(query: Buffer, records: Map<string, string>): Buffer {
  const { name, end } = readQuestion(query);
  const qtype = query.readUInt16BE(end - 4);
  const ip = qtype === 1 ? records.get(name) : undefined;
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // same id
  header.writeUInt16BE(ip || records.has(name) ? 0x8180 : 0x8183, 2); // response, RD+RA; NXDOMAIN when unknown
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(ip ? 1 : 0, 6);
  const question = query.subarray(12, end);
  if (!ip) return Buffer.concat([header, question]);
  const rr = Buffer.alloc(16);
  rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
  rr.writeUInt16BE(1, 2); // A
  rr.writeUInt16BE(1, 4); // IN
  rr.writeUInt32BE(1, 6); // TTL 1 s
  rr.writeUInt16BE(4, 10);
  ip.split(".").forEach((octet, k) => {
    rr[12 + k] = Number(octet);
  });
  return Buffer.concat([header, question, rr]);
}

export async function startDnsStub(records: Record<string, string>): Promise<DnsStub> {
  const socket = dgram.createSocket("udp4");
  const stub: DnsStub = {
    port: 0,
    records: new Map(Object.entries(records)),
    queries: [],
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
  socket.on("message", (msg, rinfo) => {
    stub.queries.push(readQuestion(msg).name);
    socket.send(answer(msg, stub.records), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  stub.port = socket.address().port;
  return stub;
}
