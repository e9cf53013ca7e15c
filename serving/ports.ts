// Which host ports the deployment occupies: one public port, everything else on 127.0.0.1 only.
import { DEFAULT_INTERNAL_REST_PORT, DEFAULT_PUBLIC_PORT } from "./constants";
import type { ServingOptions } from "./types";

export interface ServingPorts {
  /** Where clients connect: the gateway with an API key, else TF Serving REST itself. */
  public: number;
  /** TF Serving REST on the host's 127.0.0.1 (same as public without a gateway). */
  internalRest: number;
  /** TF Serving gRPC on the host's 127.0.0.1 only: gRPC has no auth, so it is never published further. */
  grpc: number;
  /** Address the public port binds to. */
  publicBind: string;
}

/** Picks the first port from `preferred` upwards that is not already taken. */
function firstFree(preferred: number, taken: number[]): number {
  let port = preferred;
  while (taken.includes(port)) port += 1;
  return port;
}

export function servingPorts(opts: ServingOptions): ServingPorts {
  const publicPort = opts.publicPort ?? DEFAULT_PUBLIC_PORT;
  const internalRest = opts.apiKey ? firstFree(DEFAULT_INTERNAL_REST_PORT, [publicPort]) : publicPort;
  const grpc = firstFree(8500, [publicPort, internalRest]);
  return { public: publicPort, internalRest, grpc, publicBind: opts.publicBind ?? "0.0.0.0" };
}
