import 'reflect-metadata';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { Default } from '../env/env-default';
import { emptyToUndefined } from '../env/env-rules';
import { defineSlice } from '../env/slice';
import { isLoopbackHost } from '../loopback-host';

/** Visible ASCII only, so the key is the same in a header, a shell and a Compose file. */
const ADMIN_KEY = /^[\x21-\x7e]{32,512}$/;

export class AuthEnv {
  /** Its message never echoes the value: a rejected key is still a secret. */
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString({ message: 'ADMIN_API_KEY must be a string' })
  @Matches(ADMIN_KEY, {
    message:
      'ADMIN_API_KEY must be 32-512 visible ASCII characters (for example: openssl rand -base64 32)',
  })
  ADMIN_API_KEY?: string;
  @Default('false')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['true', 'false'], { message: 'AUTH_DISABLED must be true or false' })
  AUTH_DISABLED!: 'true' | 'false';
  @Default('false')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['true', 'false'], { message: 'METRICS_PUBLIC must be true or false' })
  METRICS_PUBLIC!: 'true' | 'false';
  @Default(20)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  AUTH_FAILURE_LIMIT!: number;
  @Default(60)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(86_400)
  AUTH_FAILURE_WINDOW_SECONDS!: number;
}

/** Who may call the API (read by @app/auth): the admin key, and the brute-force limit. */
export class AuthConfig {
  /** The bootstrap admin key; null: no key, and auth is off where that is allowed. */
  readonly adminApiKey: string | null;
  /** Auth off although HOST is not a loopback address: only ever set on purpose. */
  readonly authDisabled: boolean;
  /** GET /metrics without the admin key. */
  readonly metricsPublic: boolean;
  /** Failed authentications per client address and window before it is refused with 429. */
  readonly failureLimit: number;
  /** The window of failureLimit, and how long an address that went past it is refused. */
  readonly failureWindowSeconds: number;

  constructor(env: AuthEnv) {
    this.adminApiKey = env.ADMIN_API_KEY ?? null;
    this.authDisabled = env.AUTH_DISABLED === 'true';
    this.metricsPublic = env.METRICS_PUBLIC === 'true';
    this.failureLimit = env.AUTH_FAILURE_LIMIT;
    this.failureWindowSeconds = env.AUTH_FAILURE_WINDOW_SECONDS;
  }
}

export const AUTH_SLICE = defineSlice(AuthEnv, AuthConfig);

/**
 * The secure default, checked with the rest of the environment (so a refused start does nothing
 * first): without ADMIN_API_KEY the API may listen only on a loopback HOST, unless
 * AUTH_DISABLED=true says an open API is meant; and the two must not be set together.
 */
export function accessProblems(auth: AuthConfig, host: string): string[] {
  if (auth.adminApiKey !== null) {
    return auth.authDisabled
      ? ['ADMIN_API_KEY and AUTH_DISABLED=true contradict each other; unset one of them']
      : [];
  }
  if (auth.authDisabled || isLoopbackHost(host)) return [];
  return [
    `HOST=${host} is reachable from other machines and ADMIN_API_KEY is not set, so anyone ` +
      'who can reach the port could run containers on this host: set ADMIN_API_KEY (32 or more ' +
      'characters, for example: openssl rand -base64 32), or listen on a loopback HOST ' +
      '(127.0.0.1), or set AUTH_DISABLED=true to run without access control on purpose',
  ];
}
