import { Module } from '@nestjs/common';
import type { EventSubscriber, SandboxEventRecord } from '@app/extension-api';
import { defineExtension } from '@app/extension-api';
import { enabledExtensions } from './extension-host';
import { EXTENSION_REGISTRY } from './extension-registry';
import { SubscriberQueue } from './subscriber-queue';

@Module({})
class EmptyModule {}

const event = (id: string) => ({ id, type: 'sandbox.created' }) as SandboxEventRecord;

describe('the extension host', () => {
  it('enables the named extensions in EXTENSIONS order', () => {
    const names = enabledExtensions(['image-policy', 'webhooks']).map((e) => e.name);
    expect(names).toEqual(['image-policy', 'webhooks']);
    expect(EXTENSION_REGISTRY.map((e) => e.name)).toEqual(['webhooks', 'image-policy']);
  });

  it('stops the start on an unknown name, saying which exist', () => {
    expect(() => enabledExtensions(['webhooks', 'billing'])).toThrow(
      'EXTENSIONS names an unknown extension "billing"; this build has: webhooks, image-policy',
    );
  });

  it('refuses an extension name that EXTENSIONS could not spell', () => {
    expect(() => defineExtension({ name: 'Bad Name', module: EmptyModule })).toThrow(
      /lower-case letters, digits and dashes/,
    );
  });
});

describe(SubscriberQueue.name, () => {
  it('returns at once and hands events over later, in order, past a failing one', async () => {
    const seen: string[] = [];
    const subscriber: EventSubscriber = {
      onEvent: async (e) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        if (e.id === '2') throw new Error('subscriber bug');
        seen.push(e.id);
      },
    };
    const queue = new SubscriberQueue(subscriber, 'test');
    queue.push(event('1'));
    queue.push(event('2'));
    queue.push(event('3'));
    expect(seen).toEqual([]);
    await queue.idle();
    expect(seen).toEqual(['1', '3']);
  });

  it('drops the oldest events of a subscriber that falls behind, never blocking the pusher', async () => {
    const seen: string[] = [];
    const queue = new SubscriberQueue({ onEvent: (e) => void seen.push(e.id) }, 'test', 2);
    for (const id of ['1', '2', '3', '4']) queue.push(event(id));
    await queue.idle();
    expect(seen).toEqual(['3', '4']);
  });
});
