import { MountTable, type MountEntry } from '../mount-table';

/**
 * A MountTable with a fixed table (or a read failure). Paths are on one device only when
 * `devices` says so (path → device number); others are each on their own.
 */
export class FakeMountTable extends MountTable {
  constructor(
    private readonly table: MountEntry[] | Error,
    private readonly devices: Record<string, number> = {},
  ) {
    super();
  }

  override sameDevice(a: string, b: string): Promise<boolean> {
    const [first, second] = [this.devices[a], this.devices[b]];
    return Promise.resolve(first !== undefined && first === second);
  }

  override entries(): Promise<MountEntry[]> {
    return this.table instanceof Error ? Promise.reject(this.table) : Promise.resolve(this.table);
  }
}

export function xfsMount(target: string, options: string[]): MountEntry {
  return { source: '/dev/sdb1', target, fstype: 'xfs', options };
}
