import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { defaultsOf } from './env-default';

/** An environment class: one property per variable, each with its rules and its @Default. */
export type EnvClass<E extends object> = new () => E;

/**
 * Reads one slice's variables from the raw environment: converts, fills in the defaults, then
 * validates (defaults included). Returns every problem instead of throwing, so the caller can
 * report all bad variables of all slices at once.
 */
export function readEnv<E extends object>(
  envClass: EnvClass<E>,
  raw: Record<string, unknown>,
): { env: E; problems: string[] } {
  const env = plainToInstance(envClass, raw, { enableImplicitConversion: false });
  for (const [name, fallback] of defaultsOf(envClass)) {
    if (Reflect.get(env, name) === undefined) Reflect.set(env, name, fallback.value());
  }
  const errors = validateSync(env, { whitelist: false });
  return { env, problems: errors.flatMap((e) => Object.values(e.constraints ?? {})) };
}
