// `npm run rehearse`: the deployed host rehearsed on this machine with a private Docker engine. Prints each step
// and its time; exits 1 on the first failure (2 when the rehearsal cannot run here, with the reason).
import { openRehearsal, type Rehearsal, rehearsalSteps } from "./harness/rehearsal";

async function main(): Promise<number> {
  const t0 = Date.now();
  const say = (line: string) => process.stdout.write(`rehearse: ${line}\n`);
  const opened = await openRehearsal({ log: say });
  if ("skipped" in opened) {
    process.stderr.write(`rehearse: cannot run here: ${opened.skipped}\n`);
    return 2;
  }
  const r: Rehearsal = opened.rehearsal;
  say(
    `engine ${r.engine.dockerHost}, sshd 127.0.0.1:${r.sshd.port}, set up in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  try {
    for (const step of rehearsalSteps) {
      const started = Date.now();
      const { summary } = await step.run(r);
      say(`${step.name}: ${summary} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
  } catch (err) {
    process.stderr.write(
      `rehearse: FAILED: ${(err as Error).message}\n--- dockerd log (tail)\n${r.engine.log().slice(-1500)}\n`,
    );
    return 1;
  } finally {
    await r.stop();
  }
  say(`all steps passed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`rehearse: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
