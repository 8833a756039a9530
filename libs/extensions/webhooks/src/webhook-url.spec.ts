import { isCodedError } from '@app/domain';
import { isPublicAddress } from './address-policy';
import { nextAttemptAt } from './delivery-schedule';
import { checkWebhookUrl } from './webhook-url';
import { eventBody, messageIdOf, signedHeaders } from './webhook-signing';
import { Webhook } from 'standardwebhooks';

async function codeOf(promise: Promise<unknown>): Promise<string | null> {
  try {
    await promise;
    return null;
  } catch (error) {
    return isCodedError(error) ? error.code : 'not coded';
  }
}

describe('webhook addresses', () => {
  it.each([
    '127.0.0.1',
    '10.0.0.1',
    '172.31.255.255',
    '192.168.0.1',
    '169.254.169.254',
    '100.64.1.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd12::1',
    '::ffff:10.0.0.1',
    '::ffff:127.0.0.1',
    'not-an-ip',
  ])('%s is not public', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    '%s is public',
    (address) => {
      expect(isPublicAddress(address)).toBe(true);
    },
  );
});

describe(checkWebhookUrl.name, () => {
  const resolveTo = (addresses: string[]) => () => Promise.resolve(addresses);

  it('takes a public http or https URL', async () => {
    const url = await checkWebhookUrl(
      'https://hooks.example.com/x?y=1',
      false,
      resolveTo(['93.184.216.34']),
    );
    expect(url.href).toBe('https://hooks.example.com/x?y=1');
  });

  it('refuses a name with any private address (a rebinding name), unless allowed', async () => {
    const both = resolveTo(['93.184.216.34', '127.0.0.1']);
    expect(await codeOf(checkWebhookUrl('http://evil.example/', false, both))).toBe(
      'WEBHOOK_URL_NOT_ALLOWED',
    );
    expect(await codeOf(checkWebhookUrl('http://evil.example/', true, both))).toBeNull();
  });

  it('refuses shapes that are not http(s) URLs with VALIDATION_FAILED', async () => {
    for (const text of [
      '',
      'hooks.example.com',
      'ftp://x.example/',
      'ws://x.example/',
      'http://a:b@x.example/',
    ]) {
      expect([text, await codeOf(checkWebhookUrl(text, true))]).toEqual([
        text,
        'VALIDATION_FAILED',
      ]);
    }
  });

  it('refuses a name that does not resolve with VALIDATION_FAILED', async () => {
    const fails = () => Promise.reject(new Error('ENOTFOUND'));
    expect(await codeOf(checkWebhookUrl('http://nowhere.invalid/', false, fails))).toBe(
      'VALIDATION_FAILED',
    );
  });
});

describe('delivery', () => {
  it('retries on the schedule, up to 10% later, then gives up', () => {
    const schedule = [1000, 60_000];
    expect(nextAttemptAt(schedule, 1, 0, () => 0)).toBe(1000);
    expect(nextAttemptAt(schedule, 2, 0, () => 1)).toBe(66_000);
    expect(nextAttemptAt(schedule, 3, 0)).toBeNull();
  });

  it('signs so that the Standard Webhooks library verifies it, with a stable message id', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = eventBody({
      id: 7,
      payload: JSON.stringify({ type: 'sandbox.running', at: '2026-01-01T00:00:00.000Z' }),
    });
    const id = messageIdOf({ id: 3, eventId: 7 });
    expect(id).toBe('msg_evt_7');
    const headers = signedHeaders(secret, id, body, new Date());
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, headers)).toMatchObject({
      type: 'sandbox.running',
      data: { id: '7' },
    });
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow();
  });
});
