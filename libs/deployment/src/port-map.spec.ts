import { bindAddressOf, hostPortsOf, tcpPortMap } from './port-map';

describe('port maps', () => {
  const map = {
    '8080/tcp': [
      { HostIp: '127.0.0.1', HostPort: '30001' },
      { HostIp: '::1', HostPort: '30001' },
    ],
    '53/udp': [{ HostIp: '', HostPort: '30002' }],
    '9000/tcp': [{ HostIp: '', HostPort: '30010-30012' }],
    '7000/tcp': [{ HostIp: '', HostPort: '' }],
    '6000/tcp': null,
  };

  it('lists every host port, ranges expanded, all protocols', () => {
    expect(hostPortsOf(map).sort()).toEqual([30001, 30001, 30002, 30010, 30011, 30012]);
  });

  it('maps TCP container ports to their first host port', () => {
    expect(tcpPortMap(map)).toEqual({ '8080': 30001, '9000': 30010 });
  });

  it('finds the bind address', () => {
    expect(bindAddressOf(map)).toBe('127.0.0.1');
    expect(bindAddressOf({})).toBeNull();
  });

  it('treats missing or malformed maps as empty', () => {
    expect(hostPortsOf(null)).toEqual([]);
    expect(hostPortsOf(undefined)).toEqual([]);
    expect(hostPortsOf({ 'x/tcp': [{ HostPort: '1' }] })).toEqual([]);
    expect(hostPortsOf({ '80/tcp': [{ HostPort: '70000' }] })).toEqual([]);
  });
});
