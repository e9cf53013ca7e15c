// The seam between the stack and the test client: `npx zx bootstrap/test-endpoint.mjs` reads
// `pulumi stack output --json --show-secrets -s <stack>`, which prints the program's exported values (secrets in
// clear). Here those values come from the real program under mocks and go through the client's own parser.
import { resolveTarget } from "../../cli/client";
import { parseStackOutputs } from "../../client/stack";
import { clientOptions } from "../helpers/client-options";
import { API_KEY, EIP, FAKE_CA_PEM, runStack } from "./harness";

async function clientView(stack: string, overrides: Record<string, unknown> = {}) {
  const run = await runStack(stack, { overrides });
  if (run.error) throw run.error;
  // What `pulumi stack output --json --show-secrets` prints: every defined output, secrets unwrapped.
  return parseStackOutputs(JSON.stringify(run.outputs), stack);
}

test("cpu stack: the client finds the URL the gateway listens on, every model, and the API key", async () => {
  // the cpu stack as a newcomer runs it: no key configured, the stack generates one
  const target = await clientView("cpu");
  expect(target).toEqual({
    apiUrl: `https://${EIP}:8501`,
    models: ["ssd_mobilenet_v2", "retinanet_resnet50_v1_fpn_640x640"],
    apiKey: API_KEY,
    caCertificate: FAKE_CA_PEM,
  });
  const resolved = resolveTarget(clientOptions({ stack: "cpu" }), {}, target);
  expect(resolved).toMatchObject({
    url: target.apiUrl,
    models: target.models,
    apiKey: API_KEY,
    caCert: FAKE_CA_PEM,
  });
  // --ca-cert's file wins over the stack's CA.
  expect(resolveTarget(clientOptions({ stack: "cpu" }), {}, target, "OTHER-PEM").caCert).toBe("OTHER-PEM");
});

test("without the gateway there is no apiKey output, and the client sends no key", async () => {
  const target = await clientView("cpu", { "odapi:requireApiKey": false });
  expect(target.apiKey).toBeUndefined();
  expect(target.caCertificate).toBeUndefined();
  expect(target.apiUrl).toBe(`http://${EIP}:8501`);
});
