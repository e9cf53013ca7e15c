// One moto S3 server per test file (started in beforeAll, stopped in afterAll) and an S3 client for it.
import { S3Client } from "@aws-sdk/client-s3";
import { type MotoServer, startMoto } from "../../scripts/harness/moto";

/** An SDK client for a moto server, with its dummy credentials (for tests' own setup and checks). */
export function motoClient(moto: MotoServer): S3Client {
  return new S3Client({
    region: "us-east-1",
    endpoint: moto.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
}

/** Starts moto for the enclosing file or describe block; call the results for the server and a client. */
export function useMoto(): { moto: () => MotoServer; s3: () => S3Client } {
  let moto: MotoServer | undefined;
  let s3: S3Client | undefined;
  beforeAll(async () => {
    moto = await startMoto();
    s3 = motoClient(moto);
  });
  afterAll(async () => {
    s3?.destroy();
    await moto?.stop();
  });
  return { moto: () => moto as MotoServer, s3: () => s3 as S3Client };
}
