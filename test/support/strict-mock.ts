/**
 * A strict automock of a class, after immich's `automock`: every method of the class (and its
 * bases) becomes a jest.fn that FAILS when called without an implementation the test gave it. So
 * a mock cannot drift from the real class (its methods are read from the class itself), and a
 * call the test did not expect is an error naming the method and its arguments, not a silent
 * `undefined`.
 *
 * Nest's lifecycle hooks (onModuleDestroy, ...) are left out: the container calls them on
 * whatever provider it holds, and the real hooks belong to the real class.
 */
const NEST_HOOKS = new Set([
  'onModuleInit',
  'onApplicationBootstrap',
  'onModuleDestroy',
  'beforeApplicationShutdown',
  'onApplicationShutdown',
]);

/** Any class, whatever its constructor takes. */
type Class<T> = abstract new (...args: any[]) => T;

export function strictMock<T extends object>(type: Class<T>): jest.Mocked<T> {
  const mock: Record<string, jest.Mock> = {};
  for (
    let proto: object | null = type.prototype as object;
    proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || NEST_HOOKS.has(name) || name in mock) continue;
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      if (typeof descriptor?.value !== 'function') continue;
      mock[name] = jest.fn((...args: unknown[]) => {
        throw new Error(`unexpected call: ${type.name}.${name}(${preview(args)})`);
      });
    }
  }
  return mock as unknown as jest.Mocked<T>;
}

function preview(args: unknown[]): string {
  return args
    .map((arg) => {
      if (typeof arg === 'function') return '[function]';
      try {
        const text = JSON.stringify(arg) ?? String(arg);
        return text.length > 80 ? `${text.slice(0, 77)}...` : text;
      } catch {
        return String(arg);
      }
    })
    .join(', ');
}
