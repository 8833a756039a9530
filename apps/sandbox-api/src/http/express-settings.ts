import type { NestExpressApplication } from '@nestjs/platform-express';

/**
 * Express defaults that cost time on every answer and buy this API nothing:
 *  - `etag`: Express hashes every body (SHA-1) to set a weak ETag, yet sandbox views change with
 *    every transition and no client sends If-None-Match, so the hash was pure cost on each read;
 *  - `x-powered-by`: one more header per answer, and it only advertises the framework.
 */
export function applyExpressSettings(app: NestExpressApplication): void {
  app.set('etag', false);
  app.disable('x-powered-by');
}
