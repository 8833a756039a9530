import type { Application, Response } from 'express';

/** What Express' res.json writes for a JSON string body (res.type + setCharset). */
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** The part of Nest's HTTP adapter (ExpressAdapter) that answers a handler's return value. */
export interface ReplyingAdapter {
  reply(response: Response, body: unknown, statusCode?: number): unknown;
}

/** Statuses whose answer Express sends without a body (or rewrites): left to Express. */
const BODILESS_STATUSES = new Set([204, 205, 304]);

/**
 * Nest answers every handler's object through Express' res.json and res.send, which on each
 * answer parse and re-format the Content-Type (setCharset), copy a body of 1,000 bytes or more
 * into a Buffer (so Node writes headers and body as two chunks with writev instead of one string)
 * and consult the ETag and freshness machinery. For a plain object answered to a plain GET, POST,
 * PATCH or DELETE none of that changes a byte of what is sent, and it was a tenth of the CPU time
 * of a GET /v1/sandboxes/:id (see bench/read-path.bench.ts).
 *
 * This reply writes exactly what res.json would (same status, same Content-Type and
 * Content-Length headers, same body) in one step, and hands every other case to Nest's own reply:
 * a StreamableFile, an Error, a string, an answer whose Content-Type the handler chose, a status
 * without a body (204, 205, 304), a HEAD request, a conditional request (If-None-Match,
 * If-Modified-Since: Express might answer 304), or an app whose JSON or ETag settings were changed
 * from the defaults set by applyExpressSettings.
 */
export function installJsonReply(adapter: ReplyingAdapter): void {
  const expressReply = adapter.reply.bind(adapter);
  adapter.reply = (response: Response, body: unknown, statusCode?: number): unknown => {
    if (statusCode) response.status(statusCode);
    const json = isPlainJson(body) && isPlainAnswer(response) ? JSON.stringify(body) : undefined;
    if (typeof json !== 'string') return expressReply(response, body);
    response.setHeader('Content-Type', JSON_CONTENT_TYPE);
    response.setHeader('Content-Length', Buffer.byteLength(json));
    return response.end(json);
  };
}

/** An object literal or an array: what JSON.stringify serializes the same as res.json does. */
function isPlainJson(body: unknown): body is object {
  if (typeof body !== 'object' || body === null) return false;
  return Array.isArray(body) || Object.getPrototypeOf(body) === Object.prototype;
}

function isPlainAnswer(response: Response): boolean {
  const { req } = response;
  return (
    req.method !== 'HEAD' &&
    !BODILESS_STATUSES.has(response.statusCode) &&
    req.headers['if-none-match'] === undefined &&
    req.headers['if-modified-since'] === undefined &&
    response.getHeader('Content-Type') === undefined &&
    hasDefaultJsonSettings(response.app)
  );
}

/** No JSON replacer, indentation or escaping, and no ETag: res.json would add nothing. */
function hasDefaultJsonSettings(app: Application): boolean {
  const setting = (name: string): unknown => app.get(name) as unknown;
  return (
    setting('json replacer') === undefined &&
    setting('json spaces') === undefined &&
    !setting('json escape') &&
    setting('etag fn') === undefined
  );
}
