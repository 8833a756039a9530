// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { isCodedError } from '@app/domain';
import { hostOf, RegistryPolicy, registryOf } from './registry-policy';

async function refusal(policy: RegistryPolicy, image: string): Promise<unknown> {
  return policy.check(image).then(
    () => null,
    (error: unknown) => error,
  );
}

/** Name → addresses, without DNS. */
const hosts: Record<string, string[]> = {
  'internal.example': ['10.1.2.3'],
  'public.example': ['93.184.216.34'],
  'mixed.example': ['93.184.216.34', '::1'],
};
const resolver = (host: string): Promise<string[]> =>
  hosts[host] ? Promise.resolve(hosts[host]) : Promise.reject(new Error('ENOTFOUND'));

describe('RegistryPolicy', () => {
  it('finds the registry of a reference as Docker does', () => {
    expect(registryOf('busybox')).toBeNull();
    expect(registryOf('library/busybox:1')).toBeNull();
    expect(registryOf('localhost/x')).toBe('localhost');
    expect(registryOf('127.0.0.1:5000/x/y:1')).toBe('127.0.0.1:5000');
    expect(registryOf('Reg.Example.com/x')).toBe('reg.example.com');
    expect(hostOf('[::1]:5000')).toBe('::1');
    expect(hostOf('10.0.0.1:80')).toBe('10.0.0.1');
  });

  it.each([
    '127.0.0.1:5000/x',
    '10.0.0.5/x',
    '172.20.1.1:80/x',
    '192.168.1.1/x',
    '169.254.169.254/latest:1',
    '100.64.0.1/x',
    '0.0.0.0:2375/x',
    '[::1]:5000/x',
    '[fe80::1]/x',
    '[fd00::1]/x',
    '[::ffff:127.0.0.1]/x',
    'internal.example/x',
    'mixed.example:443/x',
  ])('refuses %s by default', async (image) => {
    const error = await refusal(new RegistryPolicy([], resolver), image);
    expect(isCodedError(error, 'REGISTRY_NOT_ALLOWED')).toBe(true);
  });

  it.each([
    'busybox',
    'sandboxd/demo:latest',
    'public.example/x',
    'unknown.example/x',
    '8.8.8.8/x',
  ])('lets %s through', async (image) => {
    expect(await refusal(new RegistryPolicy([], resolver), image)).toBeNull();
  });

  it('allows what the operator lists: host, host:port, address, CIDR, or everything', async () => {
    const policy = new RegistryPolicy(
      ['internal.example', '127.0.0.1:5000', '192.168.0.0/16', 'fd00::1'],
      resolver,
    );
    expect(await refusal(policy, 'internal.example/x')).toBeNull();
    expect(await refusal(policy, '127.0.0.1:5000/x')).toBeNull();
    expect(await refusal(policy, '192.168.7.7:80/x')).toBeNull();
    expect(await refusal(policy, '[fd00::1]/x')).toBeNull();
    expect(isCodedError(await refusal(policy, '127.0.0.1:6379/x'), 'REGISTRY_NOT_ALLOWED')).toBe(
      true,
    );
    expect(await refusal(new RegistryPolicy(['*'], resolver), '127.0.0.1:6379/x')).toBeNull();
  });
});
