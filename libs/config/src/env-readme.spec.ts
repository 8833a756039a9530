import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getMetadataStorage } from 'class-validator';
import { defaultsOf } from './env/env-default';
import { CONFIG_SLICES } from './load-config';

interface Row {
  names: string[];
  defaults: string[];
}

/** The rows of the README's configuration table: variable names and the Default cell. */
function readmeRows(): Row[] {
  const readme = readFileSync(join(__dirname, '../../../README.md'), 'utf8');
  const section = readme.split(/^## Configuration$/m)[1]?.split(/^## /m)[0] ?? '';
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [, variables, shown] = line.split('|').map((cell) => cell.trim());
      const names = [...variables.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]);
      // `4`, `1.5` gives one default per variable; a single cell (unset) stands for all of them.
      const parts = shown.split(/(?<=`), (?=`)/);
      return { names, defaults: parts.length === names.length ? parts : names.map(() => shown) };
    });
}

/** Each variable a slice validates (every property of its env class carries a rule) → README cell. */
function sliceVariables(): Map<string, string> {
  const variables = new Map<string, string>();
  for (const slice of Object.values(CONFIG_SLICES)) {
    const rules = getMetadataStorage().getTargetValidationMetadatas(slice.env, '', true, false);
    const defaults = defaultsOf(slice.env);
    for (const name of new Set(rules.map((rule) => rule.propertyName))) {
      expect(variables.has(name)).toBe(false);
      variables.set(name, defaults.get(name)?.shown ?? 'unset');
    }
  }
  for (const slice of Object.values(CONFIG_SLICES)) {
    for (const name of defaultsOf(slice.env).keys()) expect(variables.has(name)).toBe(true);
  }
  return variables;
}

describe('the README configuration table', () => {
  it('lists exactly the variables the slices validate, each once', () => {
    const listed = readmeRows().flatMap((row) => row.names);
    expect(listed.length).toBeGreaterThan(0);
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual([...sliceVariables().keys()].sort());
  });

  it('shows each variable with the default its slice declares', () => {
    const declared = sliceVariables();
    const shown = readmeRows().flatMap((row) =>
      row.names.map((name, i) => [name, row.defaults[i]] as const),
    );
    expect(Object.fromEntries(shown)).toEqual(Object.fromEntries(declared));
  });
});
