import { SandboxEvent, SandboxEvents } from './sandbox-events';

const event: SandboxEvent = {
  id: '7',
  type: 'sandbox.stopped',
  sandboxId: 'sb1',
  at: '2026-06-01T12:00:00.000Z',
  actor: { kind: 'system', tenant: null, keyId: null },
  tenant: null,
  reason: 'idle',
  detail: 'idle-timeout',
  sandbox: { id: 'sb1' } as SandboxEvent['sandbox'],
};

describe(SandboxEvents.name, () => {
  it('hands each event to every listener until it unsubscribes', () => {
    const events = new SandboxEvents();
    const a: SandboxEvent[] = [];
    const b: SandboxEvent[] = [];
    const stopA = events.subscribe((e) => a.push(e));
    const listenerB = (e: SandboxEvent) => b.push(e);
    events.subscribe(listenerB);
    events.publish(event);
    stopA();
    events.unsubscribe(listenerB);
    events.publish(event);
    expect(a).toEqual([event]);
    expect(b).toEqual([event]);
  });

  it('keeps publishing to the others when one listener throws', () => {
    const events = new SandboxEvents();
    const seen: string[] = [];
    events.subscribe(() => {
      throw new Error('listener broke');
    });
    events.subscribe((e) => seen.push(e.sandboxId));
    expect(() => events.publish(event)).not.toThrow();
    expect(seen).toEqual(['sb1']);
  });
});
