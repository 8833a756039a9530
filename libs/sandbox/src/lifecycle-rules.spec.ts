import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as ts from 'typescript';
import { SANDBOX_OPERATIONS, SANDBOX_STATES } from '@app/domain';

/**
 * Keeps every lifecycle rule in sandbox.machine.ts: no other product file decides from a
 * sandbox's state or operation what is legal. It reads the source (TypeScript's parser, no type
 * checking) and reports any
 * - comparison of `state` / `.state` or `operation` / `.operation` with a state or operation
 *   literal (or of an operation with null: "is work in flight"),
 * - `switch` over a state with a state literal among its cases,
 * - `includes` over a list of states (`LIVE_STATES.includes(...)`, `['running', ...].includes`).
 * Ask the machine instead: `verdictOf` for commands, `stateAllows` / `stateHasTag` for what a
 * (state, operation) view allows.
 *
 * Scope: the .ts files under libs/ and apps/, without specs and test support (`testing/`), and
 * without these, which read states for another purpose than legality:
 * - the machine itself, and the snapshot projection and schema (they map the machine's states
 *   onto SandboxInfo and check stored snapshots);
 * - deadlines.ts: which deadline clock runs in each public state (when a sandbox stops or is
 *   deleted by itself); whether that stop or delete is legal is still the machine's answer;
 * - libs/meta-store: storage places records by state (hot cache for live ones, scan indexes,
 *   capacity counts, no sealed env kept for deleted ones); it never refuses a command;
 * - libs/sdk and apps/sandboxctl: HTTP clients that wait for, or print, the states the server
 *   answers; the server decides.
 */
const ROOT = join(__dirname, '..', '..', '..');

const EXEMPT_FILES = new Set([
  'libs/sandbox/src/sandbox.machine.ts',
  'libs/sandbox/src/snapshot-view.ts',
  'libs/sandbox/src/snapshot-schema.ts',
  'libs/sandbox/src/deadlines.ts',
]);
const EXEMPT_DIRS = ['libs/meta-store/', 'libs/sdk/', 'apps/sandboxctl/'];

const LITERALS = new Set<string>([...SANDBOX_STATES, ...SANDBOX_OPERATIONS]);

function productFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'testing')
        out.push(...productFiles(path));
    } else if (
      entry.name.endsWith('.ts') &&
      !/\.(spec|int-spec|e2e-spec|d)\.ts$/.test(entry.name)
    ) {
      out.push(path);
    }
  }
  return out;
}

/** `state`, `x.state`, `x?.state` (and the same for operation): which of the two, or null. */
function stateish(node: ts.Node): 'state' | 'operation' | null {
  const name = ts.isIdentifier(node)
    ? node.text
    : ts.isPropertyAccessExpression(node)
      ? node.name.text
      : null;
  return name === 'state' || name === 'operation' ? name : null;
}

function isStateLiteral(node: ts.Node): boolean {
  return ts.isStringLiteralLike(node) && LITERALS.has(node.text);
}

function isStateList(node: ts.Node): boolean {
  if (ts.isIdentifier(node) || ts.isPropertyAccessExpression(node)) {
    const name = ts.isIdentifier(node) ? node.text : node.name.text;
    return /_STATES$|_OPERATIONS$/.test(name);
  }
  return (
    ts.isArrayLiteralExpression(node) &&
    node.elements.length > 0 &&
    node.elements.every((element) => isStateLiteral(element))
  );
}

const EQUALITY = new Set([
  ts.SyntaxKind.EqualsEqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsEqualsToken,
  ts.SyntaxKind.EqualsEqualsToken,
  ts.SyntaxKind.ExclamationEqualsToken,
]);

/** Every place in `source` that decides from a state or operation, as `path:line: code`. */
export function stateDecisions(path: string, source: string): string[] {
  const file = ts.createSourceFile(path, source, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const report = (node: ts.Node) => {
    const line = file.getLineAndCharacterOfPosition(node.getStart()).line + 1;
    found.push(`${path}:${line}: ${node.getText().replace(/\s+/g, ' ').slice(0, 100)}`);
  };
  const comparesState = (a: ts.Node, b: ts.Node) => {
    const kind = stateish(a);
    if (kind === null) return false;
    return isStateLiteral(b) || (kind === 'operation' && b.kind === ts.SyntaxKind.NullKeyword);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isBinaryExpression(node) && EQUALITY.has(node.operatorToken.kind)) {
      if (comparesState(node.left, node.right) || comparesState(node.right, node.left)) {
        report(node);
      }
    } else if (ts.isSwitchStatement(node) && stateish(node.expression) !== null) {
      const cases = node.caseBlock.clauses.filter(ts.isCaseClause);
      if (cases.some((clause) => isStateLiteral(clause.expression))) report(node.expression);
    } else if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'includes' &&
      isStateList(node.expression.expression)
    ) {
      report(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('lifecycle rules live in sandbox.machine.ts', () => {
  it('no product file outside the machine decides from a state or an operation', () => {
    const files = ['libs', 'apps'].flatMap((dir) => productFiles(join(ROOT, dir)));
    expect(files.length).toBeGreaterThan(50);
    const decisions = files
      .map((path) => relative(ROOT, path).split('\\').join('/'))
      .filter((path) => !EXEMPT_FILES.has(path) && !EXEMPT_DIRS.some((d) => path.startsWith(d)))
      .flatMap((path) => stateDecisions(path, readFileSync(join(ROOT, path), 'utf8')));
    expect(decisions).toEqual([]);
  });

  it('finds each kind of decision it names (the check itself can fail)', () => {
    const source = [
      "if (info.state !== 'running' || info.operation !== null) throw refused;",
      'const live = LIVE_STATES.includes(record.info.state);',
      "const usable = ['running', 'stopped'].includes(state);",
      "switch (info.state) { case 'deleted': break; }",
      "if (found?.info.state === 'pending') cancel();",
      // Not decisions: another kind of state, and a comparison of two states.
      "if (entry.state !== 'Z') keep(); if (state === null) return; if (a.state !== b.state) x();",
    ].join('\n');
    expect(stateDecisions('example.ts', source)).toEqual([
      "example.ts:1: info.state !== 'running'",
      'example.ts:1: info.operation !== null',
      'example.ts:2: LIVE_STATES.includes(record.info.state)',
      "example.ts:3: ['running', 'stopped'].includes(state)",
      'example.ts:4: info.state',
      "example.ts:5: found?.info.state === 'pending'",
    ]);
  });
});
