import { SandboxdClient } from './client';
import { fakeFetch, jsonResponse, sandboxView } from './testing/fake-fetch';

describe('SandboxdClient', () => {
  it('should create with wait and an idempotency key, and hand back a loaded handle', async () => {
    const view = sandboxView({ id: 'abc', name: 'agent-1' });
    const { fetch, calls } = fakeFetch(() => jsonResponse(200, view));
    const client = new SandboxdClient({ baseUrl: 'http://h', fetch });
    const sandbox = await client.create(
      { image: 'sandboxd/demo:latest', env: { MODE: 'x' }, ports: [8080] },
      { wait: true, idempotencyKey: 'key-1' },
    );
    expect(sandbox.id).toBe('abc');
    expect(sandbox.info.name).toBe('agent-1');
    expect(calls[0].url.pathname).toBe('/v1/sandboxes');
    expect(calls[0].url.searchParams.get('wait')).toBe('true');
    expect(calls[0].headers['Idempotency-Key']).toBe('key-1');
    expect(JSON.parse(new TextDecoder().decode(calls[0].body))).toEqual({
      image: 'sandboxd/demo:latest',
      env: { MODE: 'x' },
      ports: [8080],
    });
  });

  it('should not send wait or the key when not asked', async () => {
    const { fetch, calls } = fakeFetch(() => jsonResponse(202, sandboxView({ state: 'pending' })));
    await new SandboxdClient({ baseUrl: 'http://h', fetch }).create({ image: 'x' });
    expect(calls[0].url.search).toBe('');
    expect(calls[0].headers['Idempotency-Key']).toBeUndefined();
  });

  it('should look up by name, then address the sandbox by its id', async () => {
    const { fetch, calls } = fakeFetch(() =>
      jsonResponse(200, sandboxView({ id: 'id1', name: 'a b' })),
    );
    const sandbox = await new SandboxdClient({ baseUrl: 'http://h', fetch }).get('a b');
    await sandbox.stop();
    expect(calls.map((c) => `${c.method} ${c.url.pathname}`)).toEqual([
      'GET /v1/sandboxes/a%20b',
      'POST /v1/sandboxes/id1/stop',
    ]);
  });

  it('should make a handle without a request', () => {
    const { fetch, calls } = fakeFetch(() => jsonResponse(200, {}));
    const sandbox = new SandboxdClient({ baseUrl: 'http://h', fetch }).sandbox('xyz');
    expect(sandbox.id).toBe('xyz');
    expect(sandbox.info).toBeNull();
    expect(calls).toHaveLength(0);
  });

  it('should follow nextCursor across pages with the same filters', async () => {
    const pages: Record<
      string,
      { items: ReturnType<typeof sandboxView>[]; nextCursor: string | null }
    > = {
      '': { items: [sandboxView({ id: 'a' }), sandboxView({ id: 'b' })], nextCursor: 'c1' },
      c1: { items: [sandboxView({ id: 'c' })], nextCursor: 'c2' },
      c2: { items: [], nextCursor: null },
    };
    const { fetch, calls } = fakeFetch((call) =>
      jsonResponse(200, pages[call.url.searchParams.get('cursor') ?? '']),
    );
    const client = new SandboxdClient({ baseUrl: 'http://h', fetch });
    const ids: string[] = [];
    for await (const view of client.list({
      state: ['running', 'stopped'],
      labels: { team: 'rl' },
      limit: 2,
    })) {
      ids.push(view.id);
    }
    expect(ids).toEqual(['a', 'b', 'c']);
    expect(calls).toHaveLength(3);
    for (const call of calls) {
      expect(call.url.searchParams.getAll('state')).toEqual(['running', 'stopped']);
      expect(call.url.searchParams.getAll('label')).toEqual(['team=rl']);
      expect(call.url.searchParams.get('limit')).toBe('2');
    }
    expect(calls.map((c) => c.url.searchParams.get('cursor'))).toEqual([null, 'c1', 'c2']);
  });

  it('should stop fetching pages when the loop stops', async () => {
    const { fetch, calls } = fakeFetch(() =>
      jsonResponse(200, {
        items: [sandboxView({ id: 'a' }), sandboxView({ id: 'b' })],
        nextCursor: 'more',
      }),
    );
    for await (const view of new SandboxdClient({ baseUrl: 'http://h', fetch }).list({
      state: 'running',
    })) {
      expect(view.id).toBe('a');
      break;
    }
    expect(calls).toHaveLength(1);
  });
});

describe('SandboxdClient.tenants', () => {
  const tenant = {
    tenant: 'team-a',
    limits: { maxSandboxes: 5, maxCpus: null, maxMemory: '8g', maxMemoryBytes: 8 * 1024 ** 3 },
    limitsUpdatedAt: '2026-01-01T00:00:00.000Z',
    usage: { sandboxes: 1, liveSandboxes: 1, cpus: 1, memory: '1g', memoryBytes: 1024 ** 3 },
  };

  it('should read a tenant and set its limits on the admin routes', async () => {
    const { fetch, calls } = fakeFetch(() => jsonResponse(200, tenant));
    const client = new SandboxdClient({ baseUrl: 'http://h', fetch });
    expect(await client.tenants.get('team-a')).toEqual(tenant);
    await client.tenants.setLimits('team-a', { maxSandboxes: 5, maxCpus: null, maxMemory: '8g' });
    expect(calls.map((c) => `${c.method} ${c.url.pathname}`)).toEqual([
      'GET /v1/admin/tenants/team-a',
      'PUT /v1/admin/tenants/team-a/limits',
    ]);
    expect(JSON.parse(new TextDecoder().decode(calls[1].body))).toEqual({
      maxSandboxes: 5,
      maxCpus: null,
      maxMemory: '8g',
    });
  });

  it('should pass the tenant filter of a list', async () => {
    const { fetch, calls } = fakeFetch(() => jsonResponse(200, { items: [], nextCursor: null }));
    await new SandboxdClient({ baseUrl: 'http://h', fetch }).listPage({ tenant: 'team-b' });
    expect(calls[0].url.searchParams.get('tenant')).toBe('team-b');
  });
});
