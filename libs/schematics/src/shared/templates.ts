import type { Names } from './names';

/** What the generated library holds: a subscriber, a policy, or both. */
export interface Parts {
  subscriber: boolean;
  policy: boolean;
  spec: boolean;
}

/** The generated files, path → content, every one Prettier- and ESLint-clean as it stands. */
export function libraryFiles(names: Names, parts: Parts): Record<string, string> {
  const files: Record<string, string> = {
    'tsconfig.lib.json': tsconfigLib(names),
    'src/index.ts': index(names, parts),
    [`src/${names.kebab}.module.ts`]: moduleFile(names, parts),
  };
  if (parts.subscriber) files[`src/${names.kebab}.subscriber.ts`] = subscriber(names);
  if (parts.policy) files[`src/${names.kebab}.policy.ts`] = policy(names);
  if (parts.spec) files[`src/${names.kebab}.spec.ts`] = spec(names, parts);
  return files;
}

function tsconfigLib(names: Names): string {
  return `{
  "extends": "../../../tsconfig.json",
  "compilerOptions": {
    "declaration": true,
    "outDir": "../../../dist/libs/extensions/${names.kebab}"
  },
  "include": ["src/**/*"],
  "exclude": ["node_modules", "dist", "test", "**/*.spec.ts"]
}
`;
}

function index(names: Names, parts: Parts): string {
  const lines = [
    `export { ${names.camel}Extension, ${names.pascal}Module } from './${names.kebab}.module';`,
  ];
  if (parts.subscriber) {
    lines.push(`export { ${names.pascal}Subscriber } from './${names.kebab}.subscriber';`);
  }
  if (parts.policy) lines.push(`export { ${names.pascal}Policy } from './${names.kebab}.policy';`);
  return `${lines.join('\n')}\n`;
}

function moduleFile(names: Names, parts: Parts): string {
  const imports = [
    "import { Module } from '@nestjs/common';",
    "import { defineExtension } from '@app/extension-api';",
  ];
  const providers: string[] = [];
  if (parts.policy) {
    imports.push(`import { ${names.pascal}Policy } from './${names.kebab}.policy';`);
    providers.push(`${names.pascal}Policy`);
  }
  if (parts.subscriber) {
    imports.push(`import { ${names.pascal}Subscriber } from './${names.kebab}.subscriber';`);
    providers.push(`${names.pascal}Subscriber`);
  }
  const wiring = [
    `  name: '${names.kebab}',`,
    `  module: ${names.pascal}Module,`,
    ...(parts.subscriber ? [`  subscribers: [${names.pascal}Subscriber],`] : []),
    ...(parts.policy ? [`  policies: [${names.pascal}Policy],`] : []),
  ];
  return `${imports.join('\n')}

/** The ${names.kebab} extension's providers. */
@Module({ providers: [${providers.join(', ')}] })
export class ${names.pascal}Module {}

/** Loaded when EXTENSIONS names '${names.kebab}' (see the extension registry). */
export const ${names.camel}Extension = defineExtension({
${wiring.join('\n')}
});
`;
}

function subscriber(names: Names): string {
  return `import { Injectable, Logger } from '@nestjs/common';
import type { EventSubscriber, SandboxEventRecord } from '@app/extension-api';

/**
 * Receives every lifecycle event this process commits, after its transaction, on a queue of its
 * own: it can take its time or throw without ever delaying or failing a command.
 */
@Injectable()
export class ${names.pascal}Subscriber implements EventSubscriber {
  private readonly logger = new Logger('${names.kebab}');

  onEvent(event: SandboxEventRecord): void {
    this.logger.log(\`\${event.type} \${event.sandboxId} (event \${event.id}, by \${event.actor.kind})\`);
  }
}
`;
}

function policy(names: Names): string {
  return `import { Injectable } from '@nestjs/common';
import type { AdmissionPolicy, AdmissionRequest } from '@app/extension-api';

/**
 * Asked before every create and restart. To refuse, throw a CodedError with a 4xx code, e.g.
 * \`new CodedError('ADMISSION_REFUSED', 'why', { image: request.image })\`: the API answers it
 * unchanged. This one allows everything.
 */
@Injectable()
export class ${names.pascal}Policy implements AdmissionPolicy {
  admit(_request: AdmissionRequest): void {
    // Allowed.
  }
}
`;
}

function spec(names: Names, parts: Parts): string {
  const types = [
    ...(parts.policy ? ['AdmissionRequest'] : []),
    ...(parts.subscriber ? ['SandboxEventRecord'] : []),
  ];
  const imports = [
    ...(parts.subscriber ? ["import { Logger } from '@nestjs/common';"] : []),
    `import type { ${types.join(', ')} } from '@app/extension-api';`,
  ];
  imports.push(`import { ${names.camel}Extension } from './${names.kebab}.module';`);
  if (parts.policy)
    imports.push(`import { ${names.pascal}Policy } from './${names.kebab}.policy';`);
  if (parts.subscriber) {
    imports.push(`import { ${names.pascal}Subscriber } from './${names.kebab}.subscriber';`);
  }
  const cases: string[] = [
    `  it('is named as EXTENSIONS will list it', () => {
    expect(${names.camel}Extension.name).toBe('${names.kebab}');
  });`,
  ];
  if (parts.subscriber) {
    cases.push(`  it('logs each event it receives', () => {
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const event = {
      id: '1',
      type: 'sandbox.created',
      sandboxId: 'sb1',
      actor: { kind: 'system', tenant: null, keyId: null },
    } as SandboxEventRecord;
    new ${names.pascal}Subscriber().onEvent(event);
    expect(log).toHaveBeenCalledWith('sandbox.created sb1 (event 1, by system)');
    log.mockRestore();
  });`);
  }
  if (parts.policy) {
    cases.push(`  it('admits every create and restart', () => {
    const request = {
      action: 'create',
      actor: { kind: 'anonymous', tenant: null, keyId: null },
      image: 'sandboxd/demo:latest',
      name: null,
      labels: {},
      cpus: null,
      memoryBytes: null,
      runtime: 'runc',
    } satisfies AdmissionRequest;
    expect(() => new ${names.pascal}Policy().admit(request)).not.toThrow();
  });`);
  }
  return `${imports.join('\n')}

describe('the ${names.kebab} extension', () => {
${cases.join('\n\n')}
});
`;
}
