import { loadConfig } from '@app/config';
import { WebhookPolicy } from './webhook-policy';

const policy = (env: Record<string, string>) => {
  const config = loadConfig(env);
  return new WebhookPolicy(config.events, config.auth);
};
const ADMIN_API_KEY = 'k'.repeat(40);

describe(WebhookPolicy.name, () => {
  it('allows private addresses while auth is off and refuses them once ADMIN_API_KEY is set', () => {
    expect(policy({}).allowPrivate).toBe(true);
    expect(policy({ ADMIN_API_KEY }).allowPrivate).toBe(false);
  });

  it('follows WEBHOOK_ALLOW_PRIVATE when it is set, either way', () => {
    expect(policy({ WEBHOOK_ALLOW_PRIVATE: 'false' }).allowPrivate).toBe(false);
    expect(policy({ ADMIN_API_KEY, WEBHOOK_ALLOW_PRIVATE: 'true' }).allowPrivate).toBe(true);
  });

  it('is enabled by EXTENSIONS, and bounds a claim past the attempt timeout', () => {
    expect(policy({}).enabled).toBe(true);
    expect(policy({ EXTENSIONS: 'image-policy' }).enabled).toBe(false);
    const timed = policy({ WEBHOOK_TIMEOUT_SECONDS: '3' });
    expect(timed.timeoutMs).toBe(3000);
    expect(timed.leaseMs).toBeGreaterThan(timed.timeoutMs);
  });
});
