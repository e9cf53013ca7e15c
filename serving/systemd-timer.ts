// The one shape of the project's systemd timers (sync agent, idle auto-stop): every N minutes from boot on.

export function renderTimerUnit(description: string, minutes: number, accuracyLine: string): string {
  return `[Unit]
Description=${description}

[Timer]
OnBootSec=${minutes}min
OnUnitActiveSec=${minutes}min
${accuracyLine}

[Install]
WantedBy=timers.target
`;
}
