import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { CodedError, validationError } from '@app/domain';
import { isPublicAddress } from './address-policy';

export const MAX_URL_LENGTH = 2048;

/** The addresses a host name resolves to (every family); a literal IP is itself. */
export type Resolver = (host: string) => Promise<string[]>;

export const systemResolver: Resolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

/** The host of a URL as a resolver takes it: an IPv6 literal without its brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/**
 * A webhook URL as it may be registered: absolute, http or https, no credentials in it, and
 * (unless private addresses are allowed) a host whose every address is public. Bad shapes are
 * 400 VALIDATION_FAILED; a refused address is 403 WEBHOOK_URL_NOT_ALLOWED. The check is repeated
 * at every delivery, on the address actually connected to (a name may be re-pointed later).
 */
export async function checkWebhookUrl(
  text: string,
  allowPrivate: boolean,
  resolve: Resolver = systemResolver,
): Promise<URL> {
  if (text.length > MAX_URL_LENGTH) {
    throw validationError('url', `must be at most ${MAX_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw validationError('url', 'must be an absolute http or https URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw validationError('url', `must use http or https, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw validationError(
      'url',
      'must not carry credentials (sign with the webhook secret instead)',
    );
  }
  if (allowPrivate) return url;
  const host = hostOf(url);
  let addresses: string[];
  try {
    addresses = isIP(host) === 0 ? await resolve(host) : [host];
  } catch {
    throw validationError('url', `its host ${host} does not resolve`);
  }
  const refused = addresses.find((address) => !isPublicAddress(address));
  if (refused !== undefined || addresses.length === 0) {
    throw privateRefusal(host, refused ?? 'no address');
  }
  return url;
}

export function privateRefusal(host: string, address: string): CodedError {
  return new CodedError(
    'WEBHOOK_URL_NOT_ALLOWED',
    `webhook host ${host} resolves to ${address}, a loopback, private or link-local address (WEBHOOK_ALLOW_PRIVATE)`,
    { host, address },
  );
}
