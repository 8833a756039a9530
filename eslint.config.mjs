// @ts-check
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

// The one-way library graph: app → {scheduler, rock, e2b} → sandbox → cluster → {meta-store,
// deployment} → config → domain, and quota → domain. rock (ROCK compatibility) and e2b (E2B compatibility)
// translate onto sandbox's public services. The domain (the sandbox model and the coded errors)
// imports no other library. The leaf libraries import only their own config slices. rock and e2b
// share container-shell's sh snippets (which imports nothing). auth (API keys, who a caller is)
// sits beside sandbox on meta-store: only the app imports it (its guard, and the E2bCaller it
// gives the E2B listener), and it imports neither the app nor sandbox.
// extension-api (the public interfaces of extensions) imports only the domain; sandbox asks its
// admission policies; the extensions under libs/extensions import the extension API (the built-in
// webhooks also the store); the app wires them.
const LIBRARIES = [
  'domain',
  'config',
  'meta-store',
  'deployment',
  'quota',
  'cluster',
  'sandbox',
  'scheduler',
  'rock',
  'e2b',
  'container-shell',
  'auth',
  'extension-api',
  'extensions',
];
const deepImport = {
  group: ['@app/*/src', '@app/*/src/**'],
  message: 'Import a library through its index (@app/<lib>).',
};
/**
 * no-restricted-imports for a library that may import only `allowed` (its own code is relative)
 * and, of @app/config, only `configNames`: the slices it reads, not the whole configuration.
 */
const onlyImports = (allowed, configNames) => [
  'error',
  {
    ...(configNames && {
      paths: [
        {
          name: '@app/config',
          allowImportNames: configNames,
          message: `this library reads only its own config slices: ${configNames.join(', ')}`,
        },
      ],
    }),
    patterns: [
      deepImport,
      ...LIBRARIES.filter((name) => !allowed.includes(name)).map((name) => ({
        group: [`@app/${name}`, `@app/${name}/**`],
        message: `imports go one way: this library may import only ${allowed.map((a) => `@app/${a}`).join(', ') || 'no other library'}`,
      })),
    ],
  },
];

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'coverage/',
      'data/',
      '**/*.js',
      '**/*.mjs',
      'libs/sdk/src/generated/',
      'libs/e2b/src/gen/',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  prettier,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: 'error',
      'no-restricted-imports': ['error', { patterns: [deepImport] }],
    },
  },
  { files: ['libs/domain/**/*.ts'], rules: { 'no-restricted-imports': onlyImports([]) } },
  { files: ['libs/config/**/*.ts'], rules: { 'no-restricted-imports': onlyImports(['domain']) } },
  {
    files: ['libs/meta-store/**/*.ts'],
    rules: {
      'no-restricted-imports': onlyImports(
        ['domain', 'config'],
        ['StoreConfig', 'LockConfig', 'SecretsKey', 'SECRETS_KEY_BYTES', 'SECRETS_KEY_FORMAT'],
      ),
    },
  },
  {
    files: ['libs/deployment/**/*.ts'],
    rules: {
      'no-restricted-imports': onlyImports(['domain', 'config'], ['DockerConfig', 'ExecConfig']),
    },
  },
  {
    // Quota takes its paths and sizes from its callers: no configuration of its own.
    files: ['libs/quota/**/*.ts'],
    rules: { 'no-restricted-imports': onlyImports(['domain']) },
  },
  {
    // Cluster mode: the node table, placement and calls between instances, on the store and the
    // engine's Swarm facts; sandbox asks it where a create goes.
    files: ['libs/cluster/**/*.ts'],
    rules: {
      'no-restricted-imports': onlyImports(['domain', 'config', 'meta-store', 'deployment']),
    },
  },
  {
    files: ['libs/sandbox/**/*.ts'],
    rules: {
      'no-restricted-imports': onlyImports([
        'domain',
        'config',
        'meta-store',
        'deployment',
        'quota',
        'extension-api',
        'cluster',
      ]),
    },
  },
  {
    // The public surface of extensions: the domain's vocabulary and nothing else of sandboxd.
    files: ['libs/extension-api/**/*.ts'],
    rules: { 'no-restricted-imports': onlyImports(['domain']) },
  },
  {
    // An extension sees the extension API, the domain and the configuration; the built-in webhooks
    // also keep their deliveries in the store and read the event log.
    files: ['libs/extensions/**/*.ts'],
    rules: {
      'no-restricted-imports': onlyImports(['domain', 'config', 'extension-api', 'meta-store']),
    },
  },
  {
    files: ['libs/scheduler/**/*.ts'],
    rules: {
      'no-restricted-imports': onlyImports(
        ['domain', 'config', 'meta-store', 'sandbox'],
        ['SchedulerConfig', 'PoolConfig', 'EventsConfig', 'ClusterConfig'],
      ),
    },
  },
  {
    files: ['libs/auth/**/*.ts'],
    rules: {
      'no-restricted-imports': onlyImports(
        ['domain', 'config', 'meta-store', 'cluster'],
        [
          'AuthConfig',
          'ServerConfig',
          'StoreConfig',
          'ClusterConfig',
          'accessProblems',
          'isLoopbackHost',
        ],
      ),
    },
  },
  {
    files: ['libs/container-shell/**/*.ts'],
    rules: { 'no-restricted-imports': onlyImports([]) },
  },
  {
    files: ['libs/rock/**/*.ts'],
    rules: {
      'no-restricted-imports': onlyImports(
        ['domain', 'config', 'sandbox', 'container-shell'],
        ['ResourcesConfig', 'ExecConfig'],
      ),
    },
  },
  {
    files: ['libs/e2b/**/*.ts'],
    rules: {
      'no-restricted-imports': onlyImports(
        ['domain', 'config', 'sandbox', 'container-shell', 'cluster'],
        ['E2bConfig', 'ExecConfig', 'FilesConfig'],
      ),
    },
  },
  {
    // The HTTP edge speaks the domain's language: never storage or Docker types.
    files: ['apps/sandbox-api/**/*.ts'],
    rules: {
      'no-restricted-imports': onlyImports([
        'domain',
        'config',
        'sandbox',
        'scheduler',
        'rock',
        'e2b',
        'auth',
        'cluster',
        'extension-api',
        'extensions',
      ]),
    },
  },
  {
    // The machine is pure: xstate and the domain's vocabulary (itself importing nothing).
    files: ['libs/sandbox/src/sandbox.machine.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!(xstate|@app/domain)$)',
              message: 'sandbox.machine.ts imports only xstate and @app/domain',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests and benchmarks drive the system from outside and read untyped JSON answers.
    files: ['**/*.spec.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
      'no-restricted-imports': 'off',
    },
  },
);
