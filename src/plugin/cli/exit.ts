/** Exit codes: how a process ended, for supervisors and scripts. */
export const EXIT = { ok: 0, failure: 1, usage: 2, drainTimeout: 3, fatal: 4 } as const;
