/**
 * The interval slot a moment falls in: processes that agree on the interval agree on the slot,
 * so claiming `task:<name>:slot:<n>` once in the shared store makes a scan run once per interval
 * across the whole cluster, however many API processes tick.
 */
export function slotOf(nowMs: number, intervalMs: number): number {
  return Math.floor(nowMs / intervalMs);
}

export function slotKey(task: string, slot: number): string {
  return `task:${task}:slot:${slot}`;
}
