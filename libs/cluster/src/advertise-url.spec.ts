import { inSubnet, withPort } from './advertise-url';

describe('advertise URL', () => {
  it('tells whether an address is in a subnet', () => {
    expect(inSubnet('10.213.128.7', '10.213.128.0/24')).toBe(true);
    expect(inSubnet('10.213.129.7', '10.213.128.0/24')).toBe(false);
    expect(inSubnet('172.18.0.3', '172.16.0.0/12')).toBe(true);
    expect(inSubnet('192.168.1.1', '0.0.0.0/0')).toBe(true);
    expect(inSubnet('10.0.0.1', '10.0.0.1/32')).toBe(true);
    expect(inSubnet('10.0.0.1', '10.0.0.0/33')).toBe(false);
  });

  it('puts the E2B port on the advertised host', () => {
    expect(withPort('http://10.0.0.5:8080', 49983)).toBe('http://10.0.0.5:49983');
  });
});
