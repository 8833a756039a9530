import { EnvClass, readEnv } from './read-env';

/** A configuration slice: the class consumers inject, built from its own environment class. */
export interface SliceDefinition<C> {
  /** The injection token and type (e.g. DockerConfig). */
  readonly token: abstract new (...args: never[]) => C;
  /** The class declaring the slice's variables, their rules and their defaults. */
  readonly env: EnvClass<object>;
  /** Reads and validates the slice's variables: the slice, or every problem found. */
  load(raw: Record<string, unknown>): { config: C } | { problems: string[] };
}

/** Pairs a slice class with the environment class its constructor reads. */
export function defineSlice<E extends object, C>(
  env: EnvClass<E>,
  config: new (env: E) => C,
): SliceDefinition<C> {
  return {
    token: config,
    env,
    load(raw) {
      const { env: values, problems } = readEnv(env, raw);
      return problems.length > 0 ? { problems } : { config: new config(values) };
    },
  };
}
