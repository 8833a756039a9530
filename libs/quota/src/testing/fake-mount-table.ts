import { MountTable, type MountEntry } from '../mount-table';

/** A MountTable with a fixed table (or a read failure). */
export class FakeMountTable extends MountTable {
  constructor(private readonly table: MountEntry[] | Error) {
    super();
  }

  override entries(): Promise<MountEntry[]> {
    return this.table instanceof Error ? Promise.reject(this.table) : Promise.resolve(this.table);
  }
}

export function xfsMount(target: string, options: string[]): MountEntry {
  return { source: '/dev/sdb1', target, fstype: 'xfs', options };
}
