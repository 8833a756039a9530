import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * What an API key looks like: `sbxd_<id>_<secret>`.
 *  - `sbxd_` makes a leaked key recognisable (secret scanners, a reader of a log).
 *  - `<id>`, 16 hex digits (64 random bits), is the key's public part: the admin API lists it,
 *    history entries and events name it, and a presented key is found by it (primary key).
 *  - `<secret>` is 256 random bits, base64url (43 characters).
 *
 * Only SHA-256 of the whole key is stored. A password hash (bcrypt, scrypt, argon2) is slow on
 * purpose, to make guessing a human-chosen password from its hash expensive; a 256-bit random
 * secret cannot be guessed whatever the hash's speed (2^256 tries), so that slowness would buy no
 * safety and would cost CPU on every request (and hand an attacker a way to burn it). The stored
 * hash is compared in constant time.
 */
export const API_KEY_PREFIX = 'sbxd_';
export const API_KEY_ID_PATTERN = /^[0-9a-f]{16}$/;
const KEY_PATTERN = /^sbxd_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;
const SECRET_BYTES = 32;

/** Longer than any key (ours, or an admin key, at most 512): refused before any work. */
export const MAX_PRESENTED_KEY_LENGTH = 512;

export interface NewApiKey {
  id: string;
  /** The key itself: shown once to whoever created it, never stored. */
  key: string;
  /** Lower-case hex of SHA-256(key): what is stored. */
  keyHash: string;
}

export function generateApiKey(): NewApiKey {
  const id = randomBytes(8).toString('hex');
  const key = `${API_KEY_PREFIX}${id}_${randomBytes(SECRET_BYTES).toString('base64url')}`;
  return { id, key, keyHash: digestOf(key).toString('hex') };
}

/** The id of a string shaped like one of our keys; null for anything else. */
export function apiKeyIdOf(key: string): string | null {
  return KEY_PATTERN.exec(key)?.[1] ?? null;
}

/** The part of a key that is not secret, as the admin list shows it. */
export function displayPrefixOf(id: string): string {
  return `${API_KEY_PREFIX}${id}`;
}

export function digestOf(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Whether two SHA-256 digests are equal, in time that does not depend on where they differ. */
export function sameDigest(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
