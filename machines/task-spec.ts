/**
 * A post-payment step the transaction machine asks for, run as a durable task keyed `txnNo:task`
 * (DESIGN.md "Sentinel, retries"). A machine noun: the store keeps it, the machine defines it.
 */
export interface TaskSpec {
  /** Unique within the transaction: `settlement`, `invoice`, `settlement-reverse:R…`, … */
  task: string;
  /** What to do; the runtime's task handlers know each kind. */
  kind: string;
  system: string;
  /** Core tasks retry for ever (and alert); the others go dead after their attempts. */
  core: boolean;
  maxAttempts: number;
  payload: Record<string, unknown>;
}
