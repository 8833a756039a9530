import type { ContainerEvent } from '@app/deployment';

/**
 * Collects what a ContainerEventStream delivers, so a test can wait for one event (or resync)
 * with a deadline and see everything that arrived so far when it does not come.
 */
export class EventRecorder {
  readonly events: Array<ContainerEvent & { receivedAt: number }> = [];
  resyncs = 0;

  readonly onEvent = (event: ContainerEvent): void => {
    this.events.push({ ...event, receivedAt: Date.now() });
  };

  readonly onResync = (): void => {
    this.resyncs += 1;
  };

  async waitFor(
    match: (event: ContainerEvent) => boolean,
    timeoutMs: number,
  ): Promise<ContainerEvent & { receivedAt: number }> {
    await this.until(() => this.events.some(match), timeoutMs, 'event');
    const found = this.events.find(match);
    if (!found) throw new Error('unreachable: the event was seen a moment ago');
    return found;
  }

  async waitForResyncs(count: number, timeoutMs: number): Promise<void> {
    await this.until(() => this.resyncs >= count, timeoutMs, `resync #${count}`);
  }

  private async until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) {
        const seen = this.events.map((e) => `${e.action}:${e.sandboxId}`).join(', ') || 'none';
        throw new Error(
          `no ${what} within ${timeoutMs} ms (events so far: ${seen}; resyncs: ${this.resyncs})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
