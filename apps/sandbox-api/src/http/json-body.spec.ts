import express, { ErrorRequestHandler } from 'express';
import request from 'supertest';
import { CodedError } from '@app/domain';
import { hasBody, jsonBody } from './json-body';

/** An Express app with the middleware, echoing what the handler saw (or the coded error). */
function app(): express.Express {
  const parsed = express();
  parsed.use(jsonBody());
  parsed.all('/{*path}', (req, res) => {
    res.json({ hasBodyProperty: 'body' in req, body: req.body as unknown });
  });
  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    res.status(400).json({ code: err instanceof CodedError ? err.code : 'OTHER' });
  };
  parsed.use(onError);
  return parsed;
}

describe('hasBody', () => {
  it.each([
    [{}, false],
    [{ 'content-length': '0' }, true],
    [{ 'content-length': '12' }, true],
    [{ 'transfer-encoding': 'chunked' }, true],
  ])('%j -> %s (as type-is, which body-parser asks)', (headers, expected) => {
    expect(hasBody({ headers })).toBe(expected);
  });
});

describe('jsonBody', () => {
  it('leaves a request without a body alone: the parser never runs', async () => {
    const answer = await request(app())
      .get('/v1/sandboxes/abc')
      .set('content-type', 'application/json');
    expect(answer.body).toEqual({ hasBodyProperty: false });
  });

  it('parses a JSON body', async () => {
    const answer = await request(app()).post('/v1/sandboxes').send({ image: 'alpine' });
    expect(answer.body).toEqual({ hasBodyProperty: true, body: { image: 'alpine' } });
  });

  it('reads an empty JSON body as {}, as body-parser does', async () => {
    const answer = await request(app())
      .post('/v1/sandboxes/abc/stop')
      .set('content-type', 'application/json')
      .set('content-length', '0');
    expect(answer.body).toEqual({ hasBodyProperty: true, body: {} });
  });

  it('leaves file uploads raw', async () => {
    const answer = await request(app())
      .put('/v1/sandboxes/abc/files?path=/a.json')
      .set('content-type', 'application/json')
      .send('{"raw": true}');
    expect(answer.body).toEqual({ hasBodyProperty: true });
  });

  it.each([
    ['malformed JSON', '{nope', 'MALFORMED_JSON'],
    ['a body over 1 MiB', JSON.stringify({ big: 'x'.repeat(1024 * 1024) }), 'PAYLOAD_TOO_LARGE'],
  ])('turns %s into a coded error', async (_what, body, code) => {
    const answer = await request(app())
      .post('/v1/sandboxes')
      .set('content-type', 'application/json')
      .send(body);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ code });
  });
});
