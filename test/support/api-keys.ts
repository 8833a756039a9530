import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';

/** An admin key for one suite (ADMIN_API_KEY takes 32-512 visible ASCII characters). */
export function newAdminKey(): string {
  return `test-admin-${randomBytes(24).toString('base64url')}`;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/** One request with fetch; the JSON body parsed (or the text when it is not JSON). */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { key?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body };
}

/** Makes a tenant's key with the admin key; answers the admin API's 201 body. */
export async function createKey(
  base: string,
  admin: string,
  tenant: string,
  name = 'e2e',
): Promise<{ id: string; key: string; tenant: string; name: string; prefix: string }> {
  const res = await call(base, 'POST', '/v1/admin/api-keys', {
    key: admin,
    body: { tenant, name },
  });
  if (res.status !== 201)
    throw new Error(`key not made: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Sends raw bytes as one HTTP/1.1 request (header values fetch would refuse to send: control
 * characters, any byte) and answers the status of the reply, or null when the server closed
 * without one.
 */
export function rawStatus(port: number, head: Buffer): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const line = Buffer.concat(chunks).toString('latin1').split('\r\n')[0] ?? '';
      const match = /^HTTP\/1\.1 (\d{3})/.exec(line);
      resolve(match ? Number(match[1]) : null);
    });
    // Not end(): a half-closed client may be dropped before its answer. Connection: close (see
    // rawGet) makes the server close once it has answered.
    socket.write(head);
  });
}

/** A GET of `path` with extra raw header lines, and Connection: close. */
export function rawGet(path: string, headerLines: Buffer[]): Buffer {
  return Buffer.concat([
    Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n`, 'latin1'),
    ...headerLines.flatMap((line) => [line, Buffer.from('\r\n')]),
    Buffer.from('\r\n'),
  ]);
}
