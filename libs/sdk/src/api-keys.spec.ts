import { SandboxdClient } from './client';
import { SandboxdError } from './errors';
import { fakeFetch, jsonResponse } from './testing/fake-fetch';

describe('SandboxdClient.apiKeys', () => {
  const created = {
    id: '0123456789abcdef',
    key: `sbxd_0123456789abcdef_${'A'.repeat(43)}`,
    tenant: 'team-a',
    name: 'ci',
    prefix: 'sbxd_0123456789abcdef',
    createdAt: '2026-01-01T00:00:00.000Z',
  };

  it('should send the client key as a Bearer token and make a key for a tenant', async () => {
    const { fetch, calls } = fakeFetch(() => jsonResponse(201, created));
    const client = new SandboxdClient({ baseUrl: 'http://h', apiKey: 'admin-key', fetch });
    expect(await client.apiKeys.create({ tenant: 'team-a', name: 'ci' })).toEqual(created);
    expect(`${calls[0].method} ${calls[0].url.pathname}`).toBe('POST /v1/admin/api-keys');
    expect(calls[0].headers.Authorization).toBe('Bearer admin-key');
    expect(JSON.parse(new TextDecoder().decode(calls[0].body))).toEqual({
      tenant: 'team-a',
      name: 'ci',
    });
  });

  it('should list (optionally one tenant) and revoke by id', async () => {
    const { id, name, tenant, prefix, createdAt } = created;
    const summary = { id, name, tenant, prefix, createdAt, lastUsedAt: null };
    const { fetch, calls } = fakeFetch((call) =>
      call.method === 'GET'
        ? jsonResponse(200, { items: [summary] })
        : new Response(null, { status: 204 }),
    );
    const client = new SandboxdClient({ baseUrl: 'http://h', apiKey: 'k', fetch });
    expect(await client.apiKeys.list({ tenant: 'team-a' })).toEqual([summary]);
    await client.apiKeys.list();
    await client.apiKeys.revoke('0123456789abcdef');
    expect(calls.map((c) => `${c.method} ${c.url.pathname}${c.url.search}`)).toEqual([
      'GET /v1/admin/api-keys?tenant=team-a',
      'GET /v1/admin/api-keys',
      'DELETE /v1/admin/api-keys/0123456789abcdef',
    ]);
  });

  it("should raise the service's code for a refused key", async () => {
    const { fetch } = fakeFetch(() =>
      jsonResponse(401, { statusCode: 401, code: 'UNAUTHENTICATED', message: 'no API key' }),
    );
    const error = await new SandboxdClient({ baseUrl: 'http://h', fetch }).apiKeys
      .list()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SandboxdError);
    expect(error).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  });
});
