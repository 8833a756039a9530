/**
 * Access control (issue 12): API keys (256-bit random, stored as SHA-256 only), the secure
 * default at start-up, and ApiKeyAuthenticator, the one check every edge shares (the HTTP API's
 * guard, ROCK's routes through it, the E2B control plane). Failed authentications are rate
 * limited per client address.
 */
export { AuthModule } from './auth.module';
export { ADMIN_ACTOR } from './actors';
export { ApiKeyAuthenticator } from './api-key-authenticator';
export { API_KEY_PREFIX } from './api-key-format';
export { KEY_CACHE_TTL_MS, LAST_USED_INTERVAL_MS } from './api-key-verifier';
export { API_KEY_NAME_MAX, API_KEY_NAME_PATTERN, ApiKeys } from './api-keys.service';
export type { ApiKeySummary, CreatedApiKey } from './api-keys.service';
export { AuthPolicy } from './auth-policy';
export type { AuthMode } from './auth-policy';
export { challengeHeadersOf } from './challenge-headers';
