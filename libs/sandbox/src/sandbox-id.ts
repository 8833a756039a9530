import { randomBytes } from 'node:crypto';

/**
 * Sandbox ids sort by creation time (base-36 milliseconds, fixed width) followed by 64 random bits,
 * so the list endpoint can page by id alone (keyset pagination, no offset scans). A library such as
 * `ulid` would do the same; three lines of node:crypto avoid a dependency for it.
 */
export function newSandboxId(now: number = Date.now()): string {
  return `${now.toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
}

/** The shape of every id newSandboxId makes: 9 + 16 base-36 characters. */
export const SANDBOX_ID_PATTERN = /^[0-9a-z]{25}$/;

/**
 * Whether `value` has the shape of a sandbox id. Names never do (SANDBOX_NAME_PATTERN refuses
 * it), so such a string can only ever be an id.
 */
export function isSandboxIdShaped(value: string): boolean {
  return SANDBOX_ID_PATTERN.test(value);
}
