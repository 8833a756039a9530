import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getMetadataStorage } from 'class-validator';
import { EnvDto } from './env.dto';

/** The variable names of the README's configuration table (the first cell of each row). */
function readmeVariables(): string[] {
  const readme = readFileSync(join(__dirname, '../../../README.md'), 'utf8');
  const section = readme.split(/^## Configuration$/m)[1]?.split(/^## /m)[0] ?? '';
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...line.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]));
}

/** Every environment variable the service validates (each property of EnvDto carries a rule). */
function envDtoVariables(): string[] {
  const metadata = getMetadataStorage().getTargetValidationMetadatas(EnvDto, '', true, false);
  return [...new Set(metadata.map((entry) => entry.propertyName))];
}

describe('the README configuration table', () => {
  it('lists exactly the variables EnvDto validates, each once', () => {
    const listed = readmeVariables();
    expect(listed.length).toBeGreaterThan(0);
    expect(new Set(listed).size).toBe(listed.length);
    expect([...listed].sort()).toEqual(envDtoVariables().sort());
  });
});
