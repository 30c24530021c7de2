/**
 * How long tests wait for things, in one place. Generous on purpose: on a machine at load 9 a
 * `trade serve` that starts in 1 s when idle took over 20 s, and a wait that gives up early only
 * turns a slow machine into a red suite. A wait polls, so a passing test never waits this long;
 * tap's per-file timeout still bounds a real hang.
 */

/** A spawned server (trade serve, trade sim, redis-server) becoming ready; a CLI command finishing. */
export const STARTUP_DEADLINE_MS = 120_000;

/** Something the platform does by itself (a callback crossing HTTP, a timer, a task) being seen. */
export const PATIENCE_MS = 60_000;
