/**
 * Reading Docker port maps (`HostConfig.PortBindings`, `NetworkSettings.Ports`), typed loosely by
 * @types/dockerode, into plain numbers.
 */

interface Binding {
  containerPort: number;
  protocol: string;
  hostIp: string;
  hostPorts: number[];
}

/** Parses "30000" or a range "30000-30010"; an empty HostPort (engine picks) yields nothing. */
function parseHostPorts(text: unknown): number[] {
  if (typeof text !== 'string' || text.trim() === '') return [];
  const [fromText, toText = fromText] = text.trim().split('-');
  const from = Number(fromText);
  const to = Number(toText);
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to < from || to > 65535) {
    return [];
  }
  const ports: number[] = [];
  for (let port = from; port <= to; port += 1) ports.push(port);
  return ports;
}

export function parseBindings(portMap: unknown): Binding[] {
  if (typeof portMap !== 'object' || portMap === null) return [];
  const bindings: Binding[] = [];
  for (const [key, list] of Object.entries(portMap as Record<string, unknown>)) {
    const [portText, protocol = 'tcp'] = key.split('/');
    const containerPort = Number(portText);
    if (!Number.isInteger(containerPort) || !Array.isArray(list)) continue;
    for (const entry of list as unknown[]) {
      if (typeof entry !== 'object' || entry === null) continue;
      const { HostIp, HostPort } = entry as { HostIp?: unknown; HostPort?: unknown };
      bindings.push({
        containerPort,
        protocol,
        hostIp: typeof HostIp === 'string' ? HostIp : '',
        hostPorts: parseHostPorts(HostPort),
      });
    }
  }
  return bindings;
}

/** Every host port a port map occupies, whatever the protocol (excluding is the safe side). */
export function hostPortsOf(portMap: unknown): number[] {
  return parseBindings(portMap).flatMap((binding) => binding.hostPorts);
}

/** container TCP port → first host port, for ContainerState.ports. */
export function tcpPortMap(portMap: unknown): Record<string, number> {
  const result: Record<string, number> = {};
  for (const binding of parseBindings(portMap)) {
    const key = String(binding.containerPort);
    if (binding.protocol !== 'tcp' || binding.hostPorts.length === 0 || key in result) continue;
    result[key] = binding.hostPorts[0];
  }
  return result;
}

/** The first explicit host address of a port map, if any. */
export function bindAddressOf(portMap: unknown): string | null {
  const found = parseBindings(portMap).find((binding) => binding.hostIp !== '');
  return found ? found.hostIp : null;
}
