import { Transport } from './http';
import { Sandbox } from './sandbox';
import { chunkedResponse, fakeFetch, jsonResponse } from './testing/fake-fetch';
import type { ExecEvent } from './types';

describe('Sandbox.execStream', () => {
  const handle = (responder: Parameters<typeof fakeFetch>[0]) => {
    const { fetch, calls } = fakeFetch(responder);
    return { sandbox: new Sandbox(new Transport({ baseUrl: 'http://h', fetch }), 'sb1'), calls };
  };

  it('should ask for NDJSON and yield events parsed across chunk boundaries', async () => {
    const { sandbox, calls } = handle(() =>
      chunkedResponse([
        '{"type":"stdout","data":"hel',
        'lo\\n"}\n{"type":"stderr","data":"oops\\n"}\n{"type":"progress"}\n',
        '{"type":"exit","exitCode":3,"timedOut":false,"truncated":false,"durationMs":12}\n',
      ]),
    );
    const events: ExecEvent[] = [];
    for await (const event of sandbox.execStream('echo hello; echo oops >&2; exit 3'))
      events.push(event);
    expect(events).toEqual([
      { type: 'stdout', data: 'hello\n' },
      { type: 'stderr', data: 'oops\n' },
      { type: 'exit', exitCode: 3, timedOut: false, truncated: false, durationMs: 12 },
    ]);
    expect(calls[0].headers.Accept).toBe('application/x-ndjson');
    expect(JSON.parse(new TextDecoder().decode(calls[0].body))).toEqual({
      command: 'echo hello; echo oops >&2; exit 3',
    });
  });

  it('should abort the request when the loop is left early', async () => {
    const { sandbox, calls } = handle((call) =>
      chunkedResponse(['{"type":"stdout","data":"1\\n"}\n'], { hold: true, signal: call.signal }),
    );
    for await (const event of sandbox.execStream([
      'sh',
      '-c',
      'while true; do echo 1; sleep 1; done',
    ])) {
      expect(event).toEqual({ type: 'stdout', data: '1\n' });
      break;
    }
    expect(calls[0].signal?.aborted).toBe(true);
  });

  it("should abort on the caller's signal and say so", async () => {
    const controller = new AbortController();
    const { sandbox } = handle((call) => chunkedResponse([], { hold: true, signal: call.signal }));
    const run = (async () => {
      const events = sandbox.execStream('sleep 100', { signal: controller.signal });
      // Nothing arrives before the abort: the first step is what fails.
      await events.next();
    })();
    setTimeout(() => controller.abort(), 10);
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('should throw the service error before any event (sandbox not running)', async () => {
    const { sandbox } = handle(() =>
      jsonResponse(409, { statusCode: 409, code: 'SANDBOX_NOT_RUNNING', message: 'stopped' }),
    );
    const iterator = sandbox.execStream(['true']);
    await expect(iterator.next()).rejects.toMatchObject({
      status: 409,
      code: 'SANDBOX_NOT_RUNNING',
    });
  });

  it('should fail when the stream ends without an exit event', async () => {
    const { sandbox } = handle(() => chunkedResponse(['{"type":"stdout","data":"x"}\n']));
    const seen: ExecEvent[] = [];
    const run = (async () => {
      for await (const event of sandbox.execStream(['true'])) seen.push(event);
    })();
    await expect(run).rejects.toMatchObject({ code: 'NETWORK_ERROR' });
    expect(seen).toHaveLength(1);
  });
});
