// @app/config's DTO decorators need the Reflect metadata polyfill before anything imports it.
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mountOptions, xfsUnavailableReason } from '../integration/quota/xfs-fixture';
import { SecondEngine, secondEngineUnavailableReason } from './second-engine';

/**
 * A second Docker engine (SecondEngine, in a network namespace of its own, with no networking of
 * its own) whose data root is a fresh loop-mounted XFS (made by scripts/xfs-test-mount.sh), for
 * tests of what the service does when overlay2 sits on XFS. Everything lives under one temporary
 * dir (`base`): the image file, the mount point, the engine's exec root, socket, pid file and log,
 * so teardown can prove nothing is left behind.
 */

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'xfs-test-mount.sh');
const run = promisify(execFile);

/**
 * Why the second engine cannot be made here, or null when it can. Side-effect free, checked
 * before any test runs: only a machine that truly lacks a prerequisite skips; an engine that fails
 * to start on a capable machine fails the suite (with the engine's log) instead.
 */
export function xfsEngineUnavailableReason(): string | null {
  const xfs = xfsUnavailableReason();
  if (xfs !== null) return xfs;
  // The kernel creates /proc/fs/xfs/xqmstat only when built with XFS quota (CONFIG_XFS_QUOTA).
  // Then the mount script gets -o prjquota, Docker honours --storage-opt size= and the unsupported
  // path this engine exists for cannot be reached.
  if (existsSync('/proc/fs/xfs/xqmstat')) {
    return 'the kernel has XFS quota support (/proc/fs/xfs/xqmstat exists): the test mount would get prjquota and the engine would honour --storage-opt, so the unsupported path cannot be exercised';
  }
  return secondEngineUnavailableReason();
}

export class XfsEngine {
  readonly base = mkdtempSync(join(tmpdir(), 'sandboxd-xfs-engine-'));
  readonly mountPoint = join(this.base, 'mnt');
  readonly dataRoot = join(this.mountPoint, 'docker');
  private readonly engine = new SecondEngine({
    base: this.base,
    dataRoot: this.dataRoot,
    // mkfs.xfs sets ftype=1 by default, which overlay2 on XFS needs. No networking of its own: no
    // bridge, no iptables rules (its sandboxes only need sandboxd's own network, in its namespace).
    networking: 'none',
  });
  readonly socketPath = this.engine.socketPath;
  readonly logPath = this.engine.logPath;
  readonly docker = this.engine.docker;
  /** What xfs-test-mount.sh said about the mount it made (with or without prjquota). */
  mountSaid = '';

  private readonly work = join(this.base, 'work');
  private readonly image = join(this.work, 'xfs-test.img');
  private started = false;

  /** Mounts the XFS, starts dockerd on it, waits until it answers, loads the demo image. */
  async start(): Promise<void> {
    const { stdout, stderr } = await run('bash', [SCRIPT, this.work, this.mountPoint], {
      timeout: 180_000,
    });
    this.mountSaid = stderr.trim();
    const said = stdout.trim().split('\n').pop();
    if (said !== this.mountPoint) {
      throw new Error(`xfs-test-mount.sh mounted ${said}, expected ${this.mountPoint}`);
    }
    const options = mountOptions(this.mountPoint);
    if (options.includes('prjquota') || options.includes('pquota')) {
      throw new Error(
        `${this.mountPoint} was mounted with project quota (${options.join(',')}): this engine is for the path where it is missing`,
      );
    }
    this.started = true;
    await this.engine.start();
  }

  /** The last lines of the engine's own log. */
  logTail(lines?: number): string {
    return this.engine.logTail(lines);
  }

  /** Mount points at or under `path`, as the kernel lists them (octal escapes decoded). */
  static mountsUnder(path: string): string[] {
    return SecondEngine.mountsUnder(path);
  }

  /**
   * Stops the engine (SecondEngine.stop: its containers, dockerd, containerd, what it left
   * mounted), unmounts and removes the XFS (`xfs-test-mount.sh --teardown`) and the temporary dir.
   * Runs every step even when one fails; throws at the end if anything went wrong or anything is
   * left (a mount, a loop device, the dir).
   */
  async teardown(): Promise<void> {
    const problems = this.started ? await this.engine.stop([this.mountPoint]) : [];
    const step = async (what: string, action: () => Promise<void>) => {
      try {
        await action();
      } catch (error) {
        problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    await step('unmounting and removing the XFS', async () => {
      await run('bash', [SCRIPT, '--teardown', this.work, this.mountPoint], { timeout: 60_000 });
    });
    const mounts = XfsEngine.mountsUnder(this.base);
    if (mounts.length > 0) {
      // Removing the dir now would recurse into a live mount.
      problems.push(`still mounted: ${mounts.join(', ')}`);
    } else {
      rmSync(this.base, { recursive: true, force: true });
    }
    await step('checking loop devices', async () => {
      const { stdout } = await run('losetup', ['--list', '--noheadings', '-O', 'NAME,BACK-FILE']);
      const loops = stdout.split('\n').filter((line) => line.includes(this.image));
      if (loops.length > 0) throw new Error(`loop devices still attached: ${loops.join('; ')}`);
    });
    if (existsSync(this.base)) problems.push(`${this.base} still exists`);
    if (problems.length > 0) {
      throw new Error(`teardown of the XFS engine:\n- ${problems.join('\n- ')}`);
    }
  }
}
