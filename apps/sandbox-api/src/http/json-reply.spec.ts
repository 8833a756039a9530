import { ExpressAdapter } from '@nestjs/platform-express';
import express, { Response } from 'express';
import request from 'supertest';
import { installJsonReply } from './json-reply';

type Reply = { body: unknown; status?: number; contentType?: string };

/**
 * Two routes answering the same value: /nest through Nest's ExpressAdapter with installJsonReply,
 * /express through Express' own res.json (what the adapter did before). `viaJson` counts the
 * answers of /nest that still went through res.json.
 */
function pair(reply: Reply, settings: Record<string, unknown> = {}) {
  const app = express();
  app.set('etag', false);
  app.disable('x-powered-by');
  for (const [name, value] of Object.entries(settings)) app.set(name, value);
  const adapter = new ExpressAdapter(app);
  installJsonReply(adapter);
  const counter = { viaJson: 0 };
  const prepare = (res: Response): void => {
    if (reply.contentType) res.setHeader('Content-Type', reply.contentType);
  };
  app.all('/nest', (_req, res) => {
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      counter.viaJson += 1;
      return json(body);
    };
    prepare(res);
    adapter.reply(res, reply.body, reply.status);
  });
  app.all('/express', (_req, res) => {
    prepare(res);
    if (reply.status) res.status(reply.status);
    if (reply.body === undefined) res.send();
    else if (typeof reply.body === 'string') res.send(reply.body);
    else res.json(reply.body);
  });
  return { app, counter };
}

/** Status, headers (without the per-connection ones) and body bytes of one answer. */
async function answer(
  app: express.Express,
  method: 'get' | 'head' | 'post',
  path: string,
  requestHeaders: Record<string, string> = {},
) {
  const res = await request(app)[method](path).set(requestHeaders).buffer(true);
  const headers = { ...(res.headers as Record<string, string>) };
  for (const perConnection of ['date', 'connection', 'keep-alive']) delete headers[perConnection];
  return { status: res.status, headers, body: res.text };
}

const VIEW = {
  id: 'mwzn9lmj64fbc0ffee',
  state: 'running',
  labels: { team: 'bench', 'note/ü': 'é ✓' },
  stateHistory: Array.from({ length: 20 }, (_, i) => ({ from: 'pending', to: 'running', at: i })),
  failureReason: null,
};

describe('installJsonReply', () => {
  it.each([
    ['a view over 1,000 bytes (non-ASCII included)', { body: VIEW }],
    ['a small object', { body: { status: 'ok' } }],
    ['an array', { body: [1, 'two', null] }],
    ['an object with a status', { body: { accepted: true }, status: 202 }],
  ])('writes exactly what res.json writes for %s, without res.json', async (_what, reply) => {
    const { app, counter } = pair(reply);
    for (const method of ['get', 'post'] as const) {
      expect(await answer(app, method, '/nest')).toEqual(await answer(app, method, '/express'));
    }
    expect(counter.viaJson).toBe(0);
  });

  it.each([
    ['HEAD', { body: VIEW }, 'head', {}],
    ['If-None-Match: * (Express answers 304)', { body: VIEW }, 'get', { 'if-none-match': '*' }],
    ['If-Modified-Since', { body: VIEW }, 'get', { 'if-modified-since': new Date().toUTCString() }],
    [
      'a Content-Type chosen by the handler',
      { body: VIEW, contentType: 'application/x-ndjson' },
      'get',
      {},
    ],
    ['a 205', { body: VIEW, status: 205 }, 'get', {}],
  ] as const)(
    'leaves %s to Express, with the same answer',
    async (_what, reply, method, headers) => {
      const { app, counter } = pair(reply);
      expect(await answer(app, method, '/nest', headers)).toEqual(
        await answer(app, method, '/express', headers),
      );
      expect(counter.viaJson).toBe(1);
    },
  );

  it.each([
    ['json spaces', { 'json spaces': 2 }],
    ['json escape', { 'json escape': true }],
    ['etag', { etag: 'weak' }],
  ])('leaves the answer to Express once %s is set', async (_what, settings) => {
    const { app, counter } = pair({ body: { html: '<b>&</b>' } }, settings);
    const nest = await answer(app, 'get', '/nest');
    expect(nest).toEqual(await answer(app, 'get', '/express'));
    expect(counter.viaJson).toBe(1);
  });

  it.each([
    ['no body', undefined],
    ['a string', 'plain text'],
  ])('leaves %s to Nest and Express', async (_what, body) => {
    const { app, counter } = pair({ body, status: body === undefined ? 204 : 200 });
    expect(await answer(app, 'get', '/nest')).toEqual(await answer(app, 'get', '/express'));
    expect(counter.viaJson).toBe(0);
  });
});
