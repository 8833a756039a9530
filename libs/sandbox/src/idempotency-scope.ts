import { createHash } from 'node:crypto';

/**
 * The stored form of a client's Idempotency-Key: a tenant's keys live in a namespace of their own,
 * so that one tenant's key can never replay another tenant's sandbox, nor conflict with (and so
 * reveal) another tenant's use of it. A tenant-less create (the admin, auth off) keeps the key as
 * it was sent, as before tenants existed. The tenant's form holds a blank, which no key a client
 * may send has (1-255 visible ASCII characters), and hashes the key so the stored value stays
 * within the column (64 + 1 + 64 characters).
 */
export function scopedIdempotencyKey(tenant: string | null, key: string): string {
  if (tenant === null) return key;
  return `${tenant} ${createHash('sha256').update(key).digest('hex')}`;
}
