// Ctrl-C for every command: a command may stop cleanly on the first press; otherwise, or on the second, quit now.
// Either way the process exits 130, the shell's code for SIGINT.

let stopCleanly: (() => void) | undefined;
let pressed = false;

/** Whether Ctrl-C was pressed during this run (the run then exits 130 however it ends). */
export function wasInterrupted(): boolean {
  return pressed;
}

/**
 * Lets the running command handle the first Ctrl-C itself (finish the current step, write a report);
 * returns the function that hands Ctrl-C back to the default (quit at once).
 */
export function onFirstInterrupt(fn: () => void): () => void {
  stopCleanly = fn;
  return () => {
    if (stopCleanly === fn) stopCleanly = undefined;
  };
}

/** Installs the SIGINT handler; `quit` reports the interruption and must end the process. Returns the uninstaller. */
export function installInterrupt(quit: () => never): () => void {
  pressed = false;
  stopCleanly = undefined;
  const handler = () => {
    const clean = pressed ? undefined : stopCleanly;
    pressed = true;
    if (clean) clean();
    else quit();
  };
  process.on("SIGINT", handler);
  return () => process.off("SIGINT", handler);
}
