import { inspect } from 'node:util';

/** Bytes of an AES-256 key. */
export const SECRETS_KEY_BYTES = 32;

/**
 * The two spellings of a 32-byte key: 64 hex digits, or base64 (standard or URL-safe, padding
 * optional: 43 or 44 characters). Checked as text first so a typo never decodes to a shorter key.
 */
const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64_KEY = /^[A-Za-z0-9+/_-]{43}=?$/;

/** Tells how SECRETS_KEY must be written; shared by the env validation and the key file. */
export const SECRETS_KEY_FORMAT =
  '32 random bytes as 64 hex digits or as base64 (e.g. `openssl rand -base64 32`)';

/**
 * A key for the env values at rest. Wrapped so it never shows up in a log line, an inspected
 * config or a JSON dump; only `bytes()` hands the material out, to the cipher.
 */
export class SecretsKey {
  readonly #bytes: Buffer;

  private constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  /** Parses SECRETS_KEY (or a key file's text); throws naming the problem, never the key. */
  static parse(text: string, source = 'SECRETS_KEY'): SecretsKey {
    const trimmed = text.trim();
    let bytes: Buffer;
    if (HEX_KEY.test(trimmed)) bytes = Buffer.from(trimmed, 'hex');
    else if (BASE64_KEY.test(trimmed)) bytes = Buffer.from(trimmed, 'base64');
    else throw new Error(`Invalid environment: ${source} must be ${SECRETS_KEY_FORMAT}`);
    if (bytes.length !== SECRETS_KEY_BYTES) {
      throw new Error(`Invalid environment: ${source} must be ${SECRETS_KEY_FORMAT}`);
    }
    // A placeholder (all zeros, "AAAA…") parses, but protects nothing.
    if (bytes.every((byte) => byte === bytes[0])) {
      throw new Error(`Invalid environment: ${source} is one byte repeated; generate a random key`);
    }
    return new SecretsKey(bytes);
  }

  static fromBytes(bytes: Buffer, source = 'the key'): SecretsKey {
    return SecretsKey.parse(bytes.toString('hex'), source);
  }

  /** A copy of the key material. */
  bytes(): Buffer {
    return Buffer.from(this.#bytes);
  }

  /** The key as base64 text, for writing a generated key file. */
  toBase64(): string {
    return this.#bytes.toString('base64');
  }

  toJSON(): string {
    return '[redacted]';
  }

  toString(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'SecretsKey([redacted])';
  }
}
