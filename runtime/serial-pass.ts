/**
 * Runs a polling pass (due timers, due tasks) one at a time. A caller that asks while a pass is
 * under way gets the *next* pass, which starts after the current one: that pass sees everything
 * stored before the call (a clock moved forward, a task just written). At most one pass waits.
 */
export class SerialPass {
  private running: Promise<number> | null = null;
  private queued: Promise<number> | null = null;

  constructor(private readonly pass: () => Promise<number>) {}

  run(): Promise<number> {
    if (!this.running) return this.start();
    this.queued ??= this.running
      .catch(() => 0)
      .then(() => {
        this.queued = null;
        return this.start();
      });
    return this.queued;
  }

  /** The pass under way and the one queued, if any, settled. */
  async idle(): Promise<void> {
    await Promise.allSettled([this.running, this.queued]);
  }

  private start(): Promise<number> {
    const current = this.pass().finally(() => {
      if (this.running === current) this.running = null;
    });
    this.running = current;
    return current;
  }
}
