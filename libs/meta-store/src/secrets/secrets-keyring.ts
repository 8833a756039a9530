import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
} from 'node:crypto';
import { SecretsKey } from '@app/config';
import { CodedError } from '@app/domain';
import type { SandboxSpec, SealedSandboxSpec } from '@app/domain';

/**
 * The one algorithm of format version 1: AES-256-GCM (authenticated), a random 96-bit nonce per
 * value, a 128-bit tag. Node's crypto (OpenSSL) rather than an npm cipher library: it is already
 * there, constant-time and maintained with the runtime; a library would only wrap the same calls.
 */
const ALGORITHM = 'aes-256-gcm';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * A sealed value: `sbx1:<key id>:<nonce>:<ciphertext+tag>` (base64url). The version says how to
 * open it; the key id says with which key, so a later key can be rotated in while old values
 * still name theirs.
 */
const TOKEN = /^sbx1:([0-9a-f]{16}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]{22,})$/;

/**
 * Seals and opens a sandbox's env values with the configured key. Each value is bound to its
 * sandbox and variable name (as GCM's additional data), so a sealed value copied into another
 * row or under another name does not open.
 */
export class SecretsKeyring {
  /** Public: a digest of the key, stored in every token so the key that sealed it is known. */
  readonly keyId: string;
  /** Where the key came from (SECRETS_KEY, a key file), for messages. */
  readonly source: string;
  readonly #key: Buffer;
  readonly #fingerprintKey: Buffer;

  constructor(key: SecretsKey, source: string) {
    this.#key = key.bytes();
    this.source = source;
    this.keyId = createHash('sha256')
      .update('sandboxd secrets key id\0')
      .update(this.#key)
      .digest('hex')
      .slice(0, 16);
    // A key of its own for idempotency fingerprints (never the cipher key itself).
    this.#fingerprintKey = Buffer.from(
      hkdfSync('sha256', this.#key, Buffer.alloc(0), 'sandboxd idempotency fingerprint', 32),
    );
  }

  seal(sandboxId: string, name: string, value: string): string {
    return this.sealWith(additionalData(sandboxId, name), value);
  }

  /** The value, or SECRETS_UNREADABLE naming the sandbox and variable (never the value). */
  open(sandboxId: string, name: string, token: string): string {
    return this.openWith(additionalData(sandboxId, name), token, (why) =>
      unreadable(sandboxId, name, why),
    );
  }

  /**
   * A sandbox's data-plane access token, sealed as env values are, under additional data of its
   * own: a sealed env value never opens as a token, nor a token as an env value.
   */
  sealAccessToken(sandboxId: string, value: string): string {
    return this.sealWith(accessTokenData(sandboxId), value);
  }

  openAccessToken(sandboxId: string, token: string): string {
    return this.openWith(
      accessTokenData(sandboxId),
      token,
      (why) =>
        new CodedError(
          'SECRETS_UNREADABLE',
          `The access token of sandbox ${sandboxId} cannot be decrypted: ${why}. Start the service with the SECRETS_KEY it was stored under.`,
          { sandboxId },
        ),
    );
  }

  private sealWith(aad: Buffer, value: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const sealed = Buffer.concat([
      cipher.update(value, 'utf8'),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return `sbx1:${this.keyId}:${nonce.toString('base64url')}:${sealed.toString('base64url')}`;
  }

  private openWith(aad: Buffer, token: string, refuse: (why: string) => CodedError): string {
    const match = TOKEN.exec(token);
    if (match === null) throw refuse('it is not a sealed value');
    const [, keyId, nonceText, sealedText] = match;
    if (keyId !== this.keyId) {
      throw refuse(
        `it was sealed under key ${keyId}, and the configured key (${this.source}) is ${this.keyId}`,
      );
    }
    const sealed = Buffer.from(sealedText, 'base64url');
    if (sealed.length < TAG_BYTES) throw refuse('it is truncated');
    try {
      const decipher = createDecipheriv(ALGORITHM, this.#key, Buffer.from(nonceText, 'base64url'), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(aad);
      decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return plain.toString('utf8');
    } catch {
      throw refuse('it fails authentication (altered, or moved from another sandbox)');
    }
  }

  sealEnv(sandboxId: string, env: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(
      Object.entries(env).map(([name, value]) => [name, this.seal(sandboxId, name, value)]),
    );
  }

  openEnv(sandboxId: string, sealed: Readonly<Record<string, string>>): Record<string, string> {
    return Object.fromEntries(
      Object.entries(sealed).map(([name, token]) => [name, this.open(sandboxId, name, token)]),
    );
  }

  /** The spec as a record stores it: env values sealed for this sandbox. */
  sealSpec(sandboxId: string, spec: SandboxSpec): SealedSandboxSpec {
    const { env, ...rest } = spec;
    return { ...rest, sealedEnv: this.sealEnv(sandboxId, env) };
  }

  /**
   * A record's spec with its env values in clear, for the code that hands them to Docker. Throws
   * SECRETS_UNREADABLE for this sandbox only when a value does not open.
   */
  openSpec(sandboxId: string, spec: SealedSandboxSpec): SandboxSpec {
    const { sealedEnv, ...rest } = spec;
    return { ...rest, env: this.openEnv(sandboxId, sealedEnv) };
  }

  /**
   * An idempotency fingerprint as stored: keyed, because the request's hash covers its env
   * values, and a bare SHA-256 of a guessable value can be confirmed by anyone who reads the row.
   */
  fingerprint(requestHash: string): string {
    return createHmac('sha256', this.#fingerprintKey).update(requestHash).digest('hex');
  }
}

/** Whether a stored value is in the sealed format (of any key). */
export function isSealedValue(value: string): boolean {
  return TOKEN.test(value);
}

function additionalData(sandboxId: string, name: string): Buffer {
  return Buffer.from(`sandboxd env v1\0${sandboxId}\0${name}`, 'utf8');
}

function accessTokenData(sandboxId: string): Buffer {
  return Buffer.from(`sandboxd access token v1\0${sandboxId}`, 'utf8');
}

function unreadable(sandboxId: string, name: string, why: string): CodedError {
  return new CodedError(
    'SECRETS_UNREADABLE',
    `The env value ${name} of sandbox ${sandboxId} cannot be decrypted: ${why}. Start the service with the SECRETS_KEY it was stored under.`,
    { sandboxId, name },
  );
}
