import { Injectable } from '@nestjs/common';
import type { EventSubscriber, SandboxEventRecord } from '@app/extension-api';
import { DeliveryWorker } from './delivery-worker';

/**
 * The webhooks' subscriber: an event this process committed starts a delivery pass at once
 * instead of at the next poll. The event itself is read from the log, never from here.
 */
@Injectable()
export class WakeOnCommit implements EventSubscriber {
  constructor(private readonly worker: DeliveryWorker) {}

  onEvent(_event: SandboxEventRecord): void {
    this.worker.wake();
  }
}
