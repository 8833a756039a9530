import { isIPv4, isIPv6 } from 'node:net';

/**
 * The unit that failed authentications are counted against, from a socket's remote address.
 * IPv4 (also as an IPv4-mapped IPv6 address) counts per address. IPv6 counts per /64: one host
 * is normally given a whole /64, so counting single addresses would let it take a fresh one for
 * every few guesses. Anything else (no address: a closed socket) shares one bucket.
 */
export function clientKeyOf(remoteAddress: string | undefined): string {
  const address = (remoteAddress ?? '').trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped && isIPv4(mapped[1])) return mapped[1];
  if (isIPv4(address)) return address;
  if (isIPv6(address)) return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`;
  return 'unknown';
}

/** The eight 16-bit groups of an IPv6 address, expanded (`::` filled in, zone id dropped). */
function ipv6Groups(address: string): string[] {
  const [bare] = address.split('%');
  const [head, tail] = bare.includes('::') ? bare.split('::') : [bare, undefined];
  const parse = (part: string | undefined): string[] =>
    part
      ? part.split(':').flatMap((group) => (group.includes('.') ? v4Groups(group) : [group]))
      : [];
  const left = parse(head);
  const right = parse(tail);
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((group) => parseInt(group, 16).toString(16));
}

/** A trailing dotted IPv4 part of an IPv6 address as its two groups. */
function v4Groups(dotted: string): string[] {
  const [a, b, c, d] = dotted.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}
