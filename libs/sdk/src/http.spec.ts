import { SandboxdError } from './errors';
import { Transport } from './http';
import { fakeFetch, jsonResponse } from './testing/fake-fetch';

describe('Transport', () => {
  it('should join the base URL (trailing slash, path prefix) and repeat array query values', () => {
    const transport = new Transport({ baseUrl: 'http://host:8080/api/', fetch: jest.fn() });
    const url = new URL(
      transport.url('/v1/sandboxes', {
        state: ['running', 'stopped'],
        label: ['team=rl', 'a=b=c'],
        includeDeleted: false,
        limit: 2,
        image: undefined,
        cursor: null,
      }),
    );
    expect(url.origin + url.pathname).toBe('http://host:8080/api/v1/sandboxes');
    expect(url.searchParams.getAll('state')).toEqual(['running', 'stopped']);
    expect(url.searchParams.getAll('label')).toEqual(['team=rl', 'a=b=c']);
    expect(url.searchParams.get('includeDeleted')).toBe('false');
    expect(url.searchParams.get('limit')).toBe('2');
    expect(url.searchParams.has('image')).toBe(false);
    expect(url.searchParams.has('cursor')).toBe(false);
    expect(transport.url('/x')).toBe('http://host:8080/api/x');
  });

  it('should send JSON with its content type, the API key and extra headers', async () => {
    const { fetch, calls } = fakeFetch(() => jsonResponse(200, { ok: true }));
    const transport = new Transport({ baseUrl: 'http://h', apiKey: 'k3y', fetch });
    await expect(
      transport.json({ method: 'POST', path: '/p', json: { a: 1 }, headers: { 'X-A': 'b' } }),
    ).resolves.toEqual({ ok: true });
    expect(calls[0].method).toBe('POST');
    expect(calls[0].headers).toMatchObject({
      Accept: 'application/json',
      'Content-Type': 'application/json',
      Authorization: 'Bearer k3y',
      'X-A': 'b',
    });
    expect(new TextDecoder().decode(calls[0].body)).toBe('{"a":1}');
  });

  it('should map an error answer to a SandboxdError with its code, details and errorId', async () => {
    const { fetch } = fakeFetch(() =>
      jsonResponse(409, {
        statusCode: 409,
        code: 'SANDBOX_NOT_RUNNING',
        message: 'sandbox x is stopped',
        details: { state: 'stopped' },
        errorId: 'e-1',
      }),
    );
    const error = await new Transport({ baseUrl: 'http://h', fetch })
      .json({ method: 'GET', path: '/p' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SandboxdError);
    expect(error).toMatchObject({
      status: 409,
      code: 'SANDBOX_NOT_RUNNING',
      message: 'sandbox x is stopped',
      details: { state: 'stopped' },
      errorId: 'e-1',
    });
  });

  it('should still give a code to an answer that is not in the error shape', async () => {
    const { fetch } = fakeFetch(
      () => new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }),
    );
    await expect(
      new Transport({ baseUrl: 'http://h', fetch }).json({ method: 'GET', path: '/p' }),
    ).rejects.toMatchObject({
      status: 502,
      code: 'HTTP_502',
      message: expect.stringContaining('bad gateway'),
    });
  });

  it('should report a refused connection as NETWORK_ERROR', async () => {
    const fetch = () =>
      Promise.reject(new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') }));
    await expect(
      new Transport({ baseUrl: 'http://h', fetch }).json({ method: 'GET', path: '/p' }),
    ).rejects.toMatchObject({
      status: 0,
      code: 'NETWORK_ERROR',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('should report invalid JSON in a 2xx answer as INVALID_RESPONSE', async () => {
    const { fetch } = fakeFetch(() => new Response('not json', { status: 200 }));
    await expect(
      new Transport({ baseUrl: 'http://h', fetch }).json({ method: 'GET', path: '/p' }),
    ).rejects.toMatchObject({ code: 'INVALID_RESPONSE' });
  });

  describe('time limits and aborts', () => {
    /** A fetch that never answers until its signal aborts, like a hung server. */
    const hangingFetch = fakeFetch(
      (call) =>
        new Promise<Response>((_resolve, reject) => {
          call.signal?.addEventListener('abort', () =>
            reject(new DOMException('aborted', 'AbortError')),
          );
        }),
    ).fetch;

    it('should give up after timeoutMs with TIMEOUT', async () => {
      const transport = new Transport({ baseUrl: 'http://h', fetch: hangingFetch, timeoutMs: 20 });
      await expect(transport.json({ method: 'GET', path: '/p' })).rejects.toMatchObject({
        code: 'TIMEOUT',
      });
    });

    it("should report the caller's abort as ABORTED", async () => {
      const transport = new Transport({ baseUrl: 'http://h', fetch: hangingFetch });
      const controller = new AbortController();
      const pending = transport.json({ method: 'GET', path: '/p', signal: controller.signal });
      controller.abort();
      await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
    });
  });
});
