import { chain, Rule, Tree } from '@angular-devkit/schematics';
import { namesOf } from './names';
import {
  assertNew,
  libraryRoot,
  registerInNestCli,
  registerInRegistry,
  registerInTsconfig,
} from './registration';
import { libraryFiles, Parts } from './templates';

export interface ExtensionOptions {
  name: string;
  spec?: boolean;
  language?: string;
}

/** The library under libs/extensions/<name>, then its three registrations. */
export function generateExtension(options: ExtensionOptions, parts: Omit<Parts, 'spec'>): Rule {
  const names = namesOf(options.name);
  if (options.language !== undefined && options.language !== 'ts') {
    throw new Error(
      `sandboxd extensions are TypeScript; --language ${options.language} is not supported`,
    );
  }
  const writeFiles: Rule = (tree: Tree) => {
    assertNew(tree, names);
    const files = libraryFiles(names, { ...parts, spec: options.spec !== false });
    for (const [path, content] of Object.entries(files)) {
      tree.create(`${libraryRoot(names)}/${path}`, content);
    }
  };
  return chain([
    writeFiles,
    registerInNestCli(names),
    registerInTsconfig(names),
    registerInRegistry(names),
  ]);
}
