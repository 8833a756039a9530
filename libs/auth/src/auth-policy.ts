import { AuthConfig, accessProblems, isLoopbackHost } from '@app/config';
import { digestOf } from './api-key-format';

/** How auth came to be on or off; the start-up log says which. */
export type AuthMode = 'on' | 'off-loopback' | 'off-explicitly';

/**
 * Who may call the API, decided once at start-up from AuthConfig and the HOST the API listens on
 * (the secure default of issue 12):
 *  - ADMIN_API_KEY set: auth is on.
 *  - no ADMIN_API_KEY and a loopback HOST: auth is off, one-user development mode (run.sh).
 *  - no ADMIN_API_KEY and any other HOST: the process refuses to start, unless AUTH_DISABLED=true.
 * An injection token of its own (an abstract class), so the guard, the E2B listener and the admin
 * API share one decision.
 */
export abstract class AuthPolicy {
  abstract readonly mode: AuthMode;
  /** SHA-256 of ADMIN_API_KEY, compared in constant time; null when auth is off. */
  abstract readonly adminKeyDigest: Buffer | null;
  /** GET /metrics without the admin key. */
  abstract readonly metricsPublic: boolean;

  get enabled(): boolean {
    return this.mode === 'on';
  }
}

class ResolvedAuthPolicy extends AuthPolicy {
  constructor(
    readonly mode: AuthMode,
    readonly adminKeyDigest: Buffer | null,
    readonly metricsPublic: boolean,
  ) {
    super();
  }
}

/**
 * The policy for a configuration and listen address. loadConfig already refuses the forbidden
 * combinations (accessProblems), before anything starts; checked again here for a configuration
 * made by hand.
 */
export function resolveAuthPolicy(config: AuthConfig, host: string): AuthPolicy {
  const problems = accessProblems(config, host);
  if (problems.length > 0) throw new Error(`Invalid environment: ${problems.join('; ')}`);
  if (config.adminApiKey !== null) {
    return new ResolvedAuthPolicy('on', digestOf(config.adminApiKey), config.metricsPublic);
  }
  const mode = isLoopbackHost(host) ? 'off-loopback' : 'off-explicitly';
  return new ResolvedAuthPolicy(mode, null, true);
}

/** The start-up log line of a policy: loud when auth is off. */
export function describeAuthMode(mode: AuthMode, host: string): string {
  switch (mode) {
    case 'on':
      return 'API keys required (ADMIN_API_KEY is set)';
    case 'off-loopback':
      return (
        `AUTH IS OFF: no ADMIN_API_KEY, so every caller is trusted with everything. This is ` +
        `one-user development mode, allowed only because HOST=${host} is a loopback address. ` +
        'Set ADMIN_API_KEY before anyone else can reach the port.'
      );
    case 'off-explicitly':
      return (
        `AUTH IS OFF (AUTH_DISABLED=true) on HOST=${host}: anyone who can reach the port can ` +
        'create containers, read every sandbox and delete them all. Set ADMIN_API_KEY to turn ' +
        'API keys on.'
      );
    default: {
      const unreachable: never = mode;
      return unreachable;
    }
  }
}
