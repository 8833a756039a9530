import { Rule, SchematicsException, Tree } from '@angular-devkit/schematics';
import type { Names } from './names';

export const REGISTRY_PATH = 'apps/sandbox-api/src/extensions/extension-registry.ts';
const IMPORTS_MARKER = '// sandboxd:extension-imports';
const ENTRIES_MARKER = '  // sandboxd:extensions';

export function libraryRoot(names: Names): string {
  return `libs/extensions/${names.kebab}`;
}

export function importPath(names: Names): string {
  return `@app/extensions/${names.kebab}`;
}

function readJson(tree: Tree, path: string): Record<string, unknown> {
  const text = tree.readText(path);
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new SchematicsException(`${path} is not plain JSON; cannot register the extension`);
  }
}

function writeJson(tree: Tree, path: string, value: unknown): void {
  tree.overwrite(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** The library in nest-cli.json's projects, as the other libraries are. */
export function registerInNestCli(names: Names): Rule {
  return (tree) => {
    const config = readJson(tree, 'nest-cli.json');
    const projects = (config.projects ?? {}) as Record<string, unknown>;
    const root = libraryRoot(names);
    projects[`extensions-${names.kebab}`] = {
      type: 'library',
      root,
      entryFile: 'index',
      sourceRoot: `${root}/src`,
      compilerOptions: { tsConfigPath: `${root}/tsconfig.lib.json` },
    };
    config.projects = projects;
    writeJson(tree, 'nest-cli.json', config);
  };
}

/** `@app/extensions/<name>` in tsconfig.json's paths (jest maps it by pattern already). */
export function registerInTsconfig(names: Names): Rule {
  return (tree) => {
    const config = readJson(tree, 'tsconfig.json');
    const options = (config.compilerOptions ?? {}) as Record<string, unknown>;
    const paths = (options.paths ?? {}) as Record<string, string[]>;
    paths[importPath(names)] = [`${libraryRoot(names)}/src`];
    options.paths = paths;
    config.compilerOptions = options;
    writeJson(tree, 'tsconfig.json', config);
  };
}

/** The import and the entry in the app's extension registry, above its two marker lines. */
export function registerInRegistry(names: Names): Rule {
  return (tree) => {
    const text = tree.readText(REGISTRY_PATH);
    if (!text.includes(IMPORTS_MARKER) || !text.includes(ENTRIES_MARKER)) {
      throw new SchematicsException(
        `${REGISTRY_PATH} lost its "${IMPORTS_MARKER}" or "${ENTRIES_MARKER.trim()}" line; add the extension by hand`,
      );
    }
    const symbol = `${names.camel}Extension`;
    const updated = text
      .replace(
        IMPORTS_MARKER,
        `import { ${symbol} } from '${importPath(names)}';\n${IMPORTS_MARKER}`,
      )
      .replace(ENTRIES_MARKER, `  ${symbol},\n${ENTRIES_MARKER}`);
    tree.overwrite(REGISTRY_PATH, updated);
  };
}

export function assertNew(tree: Tree, names: Names): void {
  if (tree.exists(`${libraryRoot(names)}/src/index.ts`)) {
    throw new SchematicsException(`${libraryRoot(names)} exists already`);
  }
}
