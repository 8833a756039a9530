// @ts-check
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** The one-way library graph: app → scheduler → sandbox → {meta-store, deployment, quota} → config. */
const upward = (names) =>
  names.map((name) => ({ group: [`@app/${name}`, `@app/${name}/*`], message: `this library must not import @app/${name} (imports go one way)` }));
const deep = { group: ['@app/*/src', '@app/*/src/*'], message: 'Import a library through its index (@app/<lib>).' };

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/', 'eslint.config.mjs', '**/*.js'] },
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
      'no-restricted-imports': ['error', { patterns: [deep] }],
    },
  },
  {
    files: ['libs/config/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [deep, ...upward(['sandbox', 'scheduler', 'meta-store', 'deployment', 'quota'])] }] },
  },
  {
    files: ['libs/meta-store/**/*.ts', 'libs/deployment/**/*.ts', 'libs/quota/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [deep, ...upward(['sandbox', 'scheduler']), ...['meta-store', 'deployment', 'quota'].flatMap((n) => upward([n]))].filter(Boolean)] }] },
  },
  {
    files: ['libs/sandbox/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [deep, ...upward(['scheduler'])] }] },
  },
  {
    // The machine is pure: xstate and nothing else.
    files: ['libs/sandbox/src/sandbox.machine.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['*', '!xstate'], message: 'sandbox.machine.ts imports only xstate' }] }],
    },
  },
  {
    files: ['**/*.spec.ts', '**/*.int-spec.ts', '**/*.e2e-spec.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      'no-restricted-imports': 'off',
    },
  },
);
