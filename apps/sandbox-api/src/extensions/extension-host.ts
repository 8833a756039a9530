import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { EventsConfig } from '@app/config';
import type { SandboxdExtension } from '@app/extension-api';
import { SandboxAdmission, SandboxEvents } from '@app/sandbox';
import { EXTENSION_REGISTRY } from './extension-registry';
import { SubscriberQueue } from './subscriber-queue';

/** The extensions EXTENSIONS names, in its order; an unknown name is a start-up error. */
export function enabledExtensions(
  names: readonly string[],
  registry: readonly SandboxdExtension[] = EXTENSION_REGISTRY,
): SandboxdExtension[] {
  return names.map((name) => {
    const found = registry.find((extension) => extension.name === name);
    if (found === undefined) {
      const known = registry.map((extension) => extension.name).join(', ');
      throw new Error(`EXTENSIONS names an unknown extension "${name}"; this build has: ${known}`);
    }
    return found;
  });
}

/**
 * Wires the enabled extensions in at start-up: each subscriber gets its own queue fed with this
 * process's committed events, each admission policy joins SandboxAdmission, in EXTENSIONS order.
 */
@Injectable()
export class ExtensionHost implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(ExtensionHost.name);
  private readonly queues: SubscriberQueue[] = [];
  private readonly unsubscribes: (() => void)[] = [];

  constructor(
    private readonly config: EventsConfig,
    private readonly moduleRef: ModuleRef,
    private readonly events: SandboxEvents,
    private readonly admission: SandboxAdmission,
  ) {}

  onModuleInit(): void {
    for (const extension of enabledExtensions(this.config.extensions)) {
      for (const type of extension.subscribers ?? []) {
        const queue = new SubscriberQueue(
          this.moduleRef.get(type, { strict: false }),
          extension.name,
        );
        this.queues.push(queue);
        this.unsubscribes.push(this.events.subscribe((event) => queue.push(event)));
      }
      for (const type of extension.policies ?? []) {
        this.admission.use(this.moduleRef.get(type, { strict: false }));
      }
      this.logger.log(`extension ${extension.name} enabled`);
    }
  }

  async onModuleDestroy(): Promise<void> {
    for (const unsubscribe of this.unsubscribes) unsubscribe();
    await Promise.all(this.queues.map((queue) => queue.idle()));
  }
}
