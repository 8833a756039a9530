import { spawnSync } from 'node:child_process';
import { BOOT_ID, descendantsOf } from './index';

/** Runs a script under this machine's sh (the snippets only read /proc). */
function sh(script: string): string {
  const run = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout;
}

describe('the container shell snippets', () => {
  it('BOOT_ID should set $boot to a number, the same each time', () => {
    const first = sh(`${BOOT_ID}\necho "$boot"`).trim();
    expect(first).toMatch(/^\d+$/);
    expect(sh(`${BOOT_ID}\necho "$boot"`).trim()).toBe(first);
  });

  it('descendantsOf should find a process, its children and grandchildren, and no one else', () => {
    const out = sh(`sh -c 'sleep 5 & sh -c "sleep 5 & wait" & wait' &
root=$!
sleep 0.3
${descendantsOf('root')}
echo "$all"
kill $all 2>/dev/null
echo "$root"`);
    const [all, root] = out.trim().split('\n');
    const pids = all.trim().split(' ');
    expect(pids[0]).toBe(root);
    // root sh, its sleep, the inner sh and its sleep.
    expect(pids).toHaveLength(4);
    expect(new Set(pids).size).toBe(4);
  });
});
