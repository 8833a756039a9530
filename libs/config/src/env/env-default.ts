/** The default of one variable, and how the README's configuration table shows it. */
export interface EnvDefault {
  /** Applied when the variable is unset (or, where the rule says so, empty). */
  readonly value: () => string | number;
  /** The README cell: `value` for a literal default, a description for a computed one. */
  readonly shown: string;
}

/** Defaults by environment class (the prototype), then by variable name. */
const DEFAULTS = new WeakMap<object, Map<string, EnvDefault>>();

/**
 * The default of the variable this decorates, next to its validation rules. A literal is shown in
 * the README as itself; a computed default (`() => …`) names what it computes to.
 */
export function Default(value: string | number): PropertyDecorator;
export function Default(value: () => string, shown: string): PropertyDecorator;
export function Default(
  value: string | number | (() => string),
  shown?: string,
): PropertyDecorator {
  const entry: EnvDefault =
    typeof value === 'function'
      ? { value, shown: shown ?? '' }
      : { value: () => value, shown: `\`${value}\`` };
  return (target, property) => {
    const own = DEFAULTS.get(target) ?? new Map<string, EnvDefault>();
    own.set(String(property), entry);
    DEFAULTS.set(target, own);
  };
}

/** The defaults an environment class declares, by variable name. */
export function defaultsOf(env: abstract new () => object): ReadonlyMap<string, EnvDefault> {
  return DEFAULTS.get(env.prototype as object) ?? new Map();
}
