import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { request as httpRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { isPublicAddress } from './address-policy';
import { hostOf } from './webhook-url';

/** Bytes of a receiver's answer that are read; the rest is cut off (the status is what counts). */
export const MAX_RESPONSE_BYTES = 64 * 1024;

export interface SendOptions {
  timeoutMs: number;
  allowPrivate: boolean;
}

export interface SendResult {
  /** The receiver's status; null when none came. */
  statusCode: number | null;
  /** Why it is not a success; null for a 2xx. */
  error: string | null;
  durationMs: number;
}

/**
 * One POST of a signed body to a receiver, bounded every way a receiver could misbehave:
 * `timeoutMs` for the whole exchange (connect, send, answer), at most MAX_RESPONSE_BYTES of the
 * answer read, never a redirect followed (a 3xx is a failed attempt, like any non-2xx), and,
 * unless private addresses are allowed, only public addresses connected to: the name is resolved
 * here, by the connection's own lookup, so the address checked is the one used (a name re-pointed
 * at 127.0.0.1 after registration is refused at delivery). Never throws.
 */
export function sendWebhook(
  url: URL,
  headers: Record<string, string>,
  body: string,
  options: SendOptions,
): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (statusCode: number | null, error: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ statusCode, error, durationMs: elapsed() });
    };
    const host = hostOf(url);
    if (!options.allowPrivate && isIP(host) !== 0 && !isPublicAddress(host)) {
      finish(null, `refused: ${host} is not a public address (WEBHOOK_ALLOW_PRIVATE)`);
      return;
    }
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(url, {
      method: 'POST',
      headers: {
        ...headers,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'user-agent': 'sandboxd-webhooks',
      },
      lookup: options.allowPrivate ? undefined : publicOnlyLookup,
      // One socket per attempt: nothing of one receiver's connection outlives its attempt.
      agent: false,
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`timed out after ${Math.round(options.timeoutMs / 1000)} s`));
    }, options.timeoutMs);
    req.on('error', (error) => finish(null, error.message));
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        // Enough: the status decides, and a huge answer must not hold memory or the worker.
        if (read >= MAX_RESPONSE_BYTES) res.destroy();
      });
      const done = (): void => finish(status, problemOf(status, res.headers.location));
      res.on('end', done);
      res.on('close', done);
      res.on('error', done);
    });
    req.end(body);
  });
}

function problemOf(status: number, location: string | undefined): string | null {
  if (status >= 200 && status < 300) return null;
  if (status >= 300 && status < 400) {
    return `redirect not followed${location === undefined ? '' : ` (to ${location.slice(0, 200)})`}`;
  }
  return `receiver answered ${status}`;
}

/**
 * dns.lookup, refusing a name any of whose addresses is not public. Answers in the form asked:
 * Node's connection (happy eyeballs) may ask for all addresses at once.
 */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) {
      callback(error, '', 0);
      return;
    }
    const refused = addresses.find((entry) => !isPublicAddress(entry.address));
    if (refused !== undefined || addresses.length === 0) {
      const reason = `refused: ${hostname} resolves to ${refused?.address ?? 'no address'}, not a public address (WEBHOOK_ALLOW_PRIVATE)`;
      callback(new Error(reason), '', 0);
      return;
    }
    if (options.all) {
      (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    } else {
      callback(null, addresses[0].address, addresses[0].family);
    }
  });
};
