import { Injectable } from '@nestjs/common';
import { ApiKeyRecord, ApiKeyStore } from '@app/meta-store';
import { CodedError, tenantNameOf, validationError } from '@app/domain';
import { API_KEY_ID_PATTERN, displayPrefixOf, generateApiKey } from './api-key-format';
import { ApiKeyVerifier } from './api-key-verifier';

/** A key's name: 1-128 characters, no control or format characters, not only blanks. */
export const API_KEY_NAME_PATTERN = /^[^\p{C}]*[^\p{C}\s][^\p{C}]*$/u;
export const API_KEY_NAME_MAX = 128;

/** A key as the admin API lists it: never the key, only its public prefix. */
export interface ApiKeySummary {
  id: string;
  name: string;
  tenant: string;
  /** `sbxd_<id>`: how the key starts, so its holder can tell which one it is. */
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** A key just made: the only time the key itself is ever returned. */
export interface CreatedApiKey {
  id: string;
  key: string;
  tenant: string;
  name: string;
  prefix: string;
  createdAt: string;
}

/** The admin API's keys: make one for a tenant, list them, revoke one. */
@Injectable()
export class ApiKeys {
  constructor(
    private readonly store: ApiKeyStore,
    private readonly verifier: ApiKeyVerifier,
  ) {}

  async create(input: { tenant: string; name: string }): Promise<CreatedApiKey> {
    const tenant = tenantNameOf(input.tenant);
    if (input.name.length > API_KEY_NAME_MAX || !API_KEY_NAME_PATTERN.test(input.name)) {
      throw validationError(
        'name',
        'must be 1-128 characters, not only blanks, no control characters',
      );
    }
    const { id, key, keyHash } = generateApiKey();
    const record: ApiKeyRecord = {
      id,
      keyHash,
      tenant,
      name: input.name,
      createdAt: Date.now(),
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.store.insert(record);
    const { name, prefix, createdAt } = summaryOf(record);
    return { id, key, tenant, name, prefix, createdAt };
  }

  async list(tenant?: string): Promise<ApiKeySummary[]> {
    const only = tenant === undefined ? undefined : tenantNameOf(tenant);
    return (await this.store.listActive(only)).map(summaryOf);
  }

  /**
   * Revokes the key: this replica refuses it at once, every other one within KEY_CACHE_TTL_MS.
   * Revoking a revoked key again is a no-op; an id that never was a key is API_KEY_NOT_FOUND.
   */
  async revoke(id: string): Promise<void> {
    const outcome = API_KEY_ID_PATTERN.test(id)
      ? await this.store.revoke(id, Date.now())
      : 'missing';
    this.verifier.evict(id);
    if (outcome === 'missing') {
      throw new CodedError('API_KEY_NOT_FOUND', `no API key has the id ${JSON.stringify(id)}`, {
        id,
      });
    }
  }
}

function summaryOf(record: ApiKeyRecord): ApiKeySummary {
  return {
    id: record.id,
    name: record.name,
    tenant: record.tenant,
    prefix: displayPrefixOf(record.id),
    createdAt: new Date(record.createdAt).toISOString(),
    lastUsedAt: record.lastUsedAt === null ? null : new Date(record.lastUsedAt).toISOString(),
  };
}
