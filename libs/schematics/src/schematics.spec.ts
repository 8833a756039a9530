import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Tree } from '@angular-devkit/schematics';
import { SchematicTestRunner } from '@angular-devkit/schematics/testing';
import { REGISTRY_PATH } from './shared/registration';

const ROOT = join(__dirname, '..', '..', '..');
const runner = new SchematicTestRunner(
  '@sandboxd/schematics',
  join(__dirname, 'test-collection.json'),
);

/** A tree holding the three files the schematics edit, as the repository has them. */
function workspace(): Tree {
  const tree = Tree.empty();
  for (const path of ['nest-cli.json', 'tsconfig.json', REGISTRY_PATH]) {
    tree.create(path, readFileSync(join(ROOT, path), 'utf8'));
  }
  return tree;
}

describe('@sandboxd/schematics', () => {
  it('extension: creates the library and registers it in nest-cli.json, tsconfig and the registry', async () => {
    const tree = await runner.runSchematic('extension', { name: 'audit-log' }, workspace());
    expect(tree.files.filter((f) => f.startsWith('/libs/extensions/audit-log')).sort()).toEqual([
      '/libs/extensions/audit-log/src/audit-log.module.ts',
      '/libs/extensions/audit-log/src/audit-log.policy.ts',
      '/libs/extensions/audit-log/src/audit-log.spec.ts',
      '/libs/extensions/audit-log/src/audit-log.subscriber.ts',
      '/libs/extensions/audit-log/src/index.ts',
      '/libs/extensions/audit-log/tsconfig.lib.json',
    ]);
    const module = tree.readText('libs/extensions/audit-log/src/audit-log.module.ts');
    expect(module).toContain("name: 'audit-log'");
    expect(module).toContain('subscribers: [AuditLogSubscriber]');
    expect(module).toContain('policies: [AuditLogPolicy]');
    expect(tree.readText('libs/extensions/audit-log/src/audit-log.subscriber.ts')).toContain(
      'implements EventSubscriber',
    );
    const nest = JSON.parse(tree.readText('nest-cli.json'));
    expect(nest.projects['extensions-audit-log']).toEqual({
      type: 'library',
      root: 'libs/extensions/audit-log',
      entryFile: 'index',
      sourceRoot: 'libs/extensions/audit-log/src',
      compilerOptions: { tsConfigPath: 'libs/extensions/audit-log/tsconfig.lib.json' },
    });
    const paths = JSON.parse(tree.readText('tsconfig.json')).compilerOptions.paths;
    expect(paths['@app/extensions/audit-log']).toEqual(['libs/extensions/audit-log/src']);
    expect(paths['@app/domain']).toEqual(['libs/domain/src']);
    const registry = tree.readText(REGISTRY_PATH);
    expect(registry).toContain("import { auditLogExtension } from '@app/extensions/audit-log';");
    expect(registry).toMatch(
      /imagePolicyExtension,\n {2}auditLogExtension,\n {2}\/\/ sandboxd:extensions/,
    );
  });

  it('policy: an admission policy only', async () => {
    const tree = await runner.runSchematic('policy', { name: 'quota-gate' }, workspace());
    const files = tree.files.filter((f) => f.startsWith('/libs/extensions/quota-gate/src'));
    expect(files.sort()).toEqual([
      '/libs/extensions/quota-gate/src/index.ts',
      '/libs/extensions/quota-gate/src/quota-gate.module.ts',
      '/libs/extensions/quota-gate/src/quota-gate.policy.ts',
      '/libs/extensions/quota-gate/src/quota-gate.spec.ts',
    ]);
    const module = tree.readText('libs/extensions/quota-gate/src/quota-gate.module.ts');
    expect(module).toContain('policies: [QuotaGatePolicy]');
    expect(module).not.toContain('subscribers');
    expect(tree.readText(REGISTRY_PATH)).toContain('quotaGateExtension,');
  });

  it('two extensions in a row both land in the registry, in order', async () => {
    const first = await runner.runSchematic('extension', { name: 'one' }, workspace());
    const second = await runner.runSchematic('policy', { name: 'two' }, first);
    expect(second.readText(REGISTRY_PATH)).toMatch(/oneExtension,\n {2}twoExtension,\n/);
  });

  it('leaves the spec out with --no-spec', async () => {
    const tree = await runner.runSchematic('extension', { name: 'bare', spec: false }, workspace());
    expect(tree.exists('libs/extensions/bare/src/bare.spec.ts')).toBe(false);
  });

  it.each(['Bad', 'with space', 'a--b', '-x', '9lives', 'webhooks', 'x'.repeat(25), ''])(
    'refuses the name %p',
    async (name) => {
      await expect(runner.runSchematic('extension', { name }, workspace())).rejects.toThrow();
    },
  );

  it('refuses to overwrite an existing extension', async () => {
    const tree = await runner.runSchematic('extension', { name: 'again' }, workspace());
    await expect(runner.runSchematic('extension', { name: 'again' }, tree)).rejects.toThrow(
      /exists already/,
    );
  });

  it('refuses a registry whose marker lines are gone, instead of guessing', async () => {
    const tree = workspace();
    tree.overwrite(REGISTRY_PATH, 'export const EXTENSION_REGISTRY = [];\n');
    await expect(runner.runSchematic('extension', { name: 'lost' }, tree)).rejects.toThrow(
      /add the extension by hand/,
    );
  });
});
