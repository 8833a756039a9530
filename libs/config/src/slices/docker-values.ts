/** Parsers of the Docker slice's structured variables; each throws naming the variable. */

export function parsePortRange(text: string): { from: number; to: number } {
  if (!/^\d{1,5}-\d{1,5}$/.test(text)) {
    throw new Error('Invalid environment: PORT_RANGE must look like 30000-39999');
  }
  const [from, to] = text.split('-').map(Number);
  if (!(from >= 1 && to <= 65535 && from <= to)) {
    throw new Error(`Invalid environment: PORT_RANGE ${text} must be 1-65535 with from <= to`);
  }
  return { from, to };
}

/** Accepts a JSON array (`["sleep","infinity"]`) or a plain space-separated command line. */
export function parseArgv(text: string): string[] {
  if (text.trim().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    if (Array.isArray(parsed) && parsed.length > 0 && parsed.every((a) => typeof a === 'string')) {
      return parsed;
    }
    throw new Error('Invalid environment: KEEPALIVE_COMMAND must be a non-empty JSON string array');
  }
  return text.trim().split(/\s+/);
}

/** The host name as a label value: what INSTANCE_ID accepts, never empty. */
export function sanitizeInstanceId(name: string): string {
  return name.replace(/[^a-zA-Z0-9_.-]/g, '-').slice(0, 63) || 'sandboxd';
}
