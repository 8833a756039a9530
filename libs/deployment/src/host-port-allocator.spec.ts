// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { isCodedError } from '@app/domain';
import type Dockerode from 'dockerode';
import { HostPortAllocator } from './host-port-allocator';

interface FakeContainer {
  id: string;
  /** The container's name (the listing shows it with a leading slash). */
  name?: string;
  /** Static bindings, as inspect shows them (also for stopped containers). */
  bound: number[];
  /** Ports the listing shows (running containers only). */
  live?: number[];
  /** The listing's State; absent: not said (inspected like a stopped one). */
  state?: 'running' | 'exited' | 'created';
}

/** Just enough of dockerode for the allocator: list and inspect, with call counters. */
function codeThrownBy(action: () => unknown): string | null {
  try {
    action();
  } catch (error) {
    return isCodedError(error) ? error.code : 'not a CodedError';
  }
  return null;
}

class FakeDocker {
  containers: FakeContainer[] = [];
  lists = 0;
  inspected: string[] = [];

  listContainers(): Promise<unknown[]> {
    this.lists += 1;
    return Promise.resolve(
      this.containers.map((c) => ({
        Id: c.id,
        Names: [`/${c.name ?? c.id}`],
        State: c.state,
        Ports: (c.live ?? []).map((port) => ({
          IP: '127.0.0.1',
          PrivatePort: 80,
          PublicPort: port,
          Type: 'tcp',
        })),
      })),
    );
  }

  getContainer(id: string): { inspect: () => Promise<unknown> } {
    return {
      inspect: () => {
        this.inspected.push(id);
        const found = this.containers.find((c) => c.id === id);
        if (!found)
          return Promise.reject(Object.assign(new Error('no such container'), { statusCode: 404 }));
        const PortBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
        found.bound.forEach((port, i) => {
          PortBindings[`${8000 + i}/tcp`] = [{ HostIp: '127.0.0.1', HostPort: String(port) }];
        });
        return Promise.resolve({ Id: id, HostConfig: { PortBindings } });
      },
    };
  }

  asDockerode(): Dockerode {
    return this as unknown as Dockerode;
  }
}

describe('HostPortAllocator', () => {
  let docker: FakeDocker;

  beforeEach(() => {
    docker = new FakeDocker();
  });

  it('never hands out a port bound by a stopped or running container', async () => {
    docker.containers = [
      { id: 'stopped', bound: [100, 101] },
      { id: 'running', bound: [102], live: [102] },
      { id: 'engine-chosen', bound: [], live: [103] },
    ];
    const allocator = new HostPortAllocator(docker.asDockerode(), { from: 100, to: 104 });
    const lease = await allocator.openLease();
    expect(lease.take(1)).toEqual([104]);
    expect(codeThrownBy(() => lease.take(1))).toBe('PORTS_EXHAUSTED');
  });

  it('scans once per lease and inspects each container only once across leases', async () => {
    docker.containers = [{ id: 'a', bound: [100] }];
    const allocator = new HostPortAllocator(docker.asDockerode(), { from: 100, to: 199 });

    const first = await allocator.openLease();
    first.take(2);
    first.take(1);
    expect(docker.lists).toBe(1);
    first.release();

    docker.containers.push({ id: 'b', bound: [101] });
    const second = await allocator.openLease();
    second.release();
    expect(docker.lists).toBe(2);
    expect(docker.inspected).toEqual(['a', 'b']);
  });

  it('lets leases opened at the same time share one scan, yet hands them distinct ports', async () => {
    docker.containers = [
      { id: 'a', bound: [100] },
      { id: 'b', bound: [101] },
    ];
    const allocator = new HostPortAllocator(docker.asDockerode(), { from: 100, to: 104 });
    const leases = await Promise.all([1, 2, 3].map(() => allocator.openLease()));
    expect(docker.lists).toBe(1);
    expect(docker.inspected.sort()).toEqual(['a', 'b']);
    const ports = leases.flatMap((lease) => lease.take(1));
    expect(new Set(ports)).toEqual(new Set([102, 103, 104]));

    // Once it is done, the next lease scans again and sees what changed.
    docker.containers.push({ id: 'c', bound: [], live: [] });
    await allocator.openLease();
    expect(docker.lists).toBe(2);
  });

  it('inspects no running container: its listing shows its ports', async () => {
    docker.containers = [
      { id: 'running', bound: [100], live: [100], state: 'running' },
      { id: 'exited', bound: [101], state: 'exited' },
    ];
    const allocator = new HostPortAllocator(docker.asDockerode(), { from: 100, to: 102 });
    const lease = await allocator.openLease();
    expect(docker.inspected).toEqual(['exited']);
    expect(lease.take(1)).toEqual([102]);
    lease.release();

    // Stopped later: inspected then, and its port still avoided.
    docker.containers[0] = { id: 'running', bound: [100], state: 'exited' };
    const later = await allocator.openLease();
    expect(docker.inspected).toEqual(['exited', 'running']);
    expect(later.take(1)).toEqual([102]);
  });

  it('does not inspect a container it recorded at its create', async () => {
    const allocator = new HostPortAllocator(docker.asDockerode(), { from: 100, to: 102 });
    const creator = await allocator.openLease();
    const [port] = creator.take(1);
    docker.containers = [{ id: 'mine', bound: [port], state: 'created' }];
    creator.commit('mine', [port]);
    creator.release();
    const next = await allocator.openLease();
    expect(docker.inspected).toEqual([]);
    expect(next.take(1)).not.toEqual([port]);
  });

  it('does not inspect a container whose provision holds a lease, until that lease is released', async () => {
    const allocator = new HostPortAllocator(docker.asDockerode(), { from: 100, to: 102 });
    const mine = await allocator.openLease('sandboxd-a');
    const [port] = mine.take(1);
    // The engine has it (created, being started) before its create answered and was recorded.
    docker.containers = [{ id: 'a1', name: 'sandboxd-a', bound: [port], state: 'created' }];
    const other = await allocator.openLease('sandboxd-b');
    expect(docker.inspected).toEqual([]);
    expect(other.take(1)).not.toEqual([port]);
    other.release();

    // Its provision ended without recording it (a crash of the create): learnt by the next scan.
    mine.release();
    const later = await allocator.openLease();
    expect(docker.inspected).toEqual(['a1']);
    expect(later.take(2)).not.toContain(port);
  });

  it('forgets containers that disappeared, freeing their ports', async () => {
    docker.containers = [{ id: 'a', bound: [100] }];
    const allocator = new HostPortAllocator(docker.asDockerode(), { from: 100, to: 101 });
    const first = await allocator.openLease();
    expect(first.take(1)).toEqual([101]);
    first.release();

    docker.containers = [];
    const second = await allocator.openLease();
    expect(second.take(2).sort()).toEqual([100, 101]);
    expect(allocator.cachedContainerCount).toBe(0);
  });

  it('keeps concurrent leases in one process apart until they release', async () => {
    const allocator = new HostPortAllocator(docker.asDockerode(), { from: 100, to: 103 });
    const a = await allocator.openLease();
    const b = await allocator.openLease();
    const fromA = a.take(2);
    const fromB = b.take(2);
    expect(new Set([...fromA, ...fromB]).size).toBe(4);
    expect(codeThrownBy(() => b.take(1))).toBe('PORTS_EXHAUSTED');
    a.release();
    expect(b.take(2).sort()).toEqual([...fromA].sort());
  });

  it('still avoids a committed container whose create a concurrent scan did not see', async () => {
    const allocator = new HostPortAllocator(docker.asDockerode(), { from: 100, to: 101 });
    const early = await allocator.openLease(); // scanned before the container below existed
    const creator = await allocator.openLease();
    const [port] = creator.take(1);
    creator.commit('new-container', [port]);
    creator.release();
    expect(early.take(1)).not.toEqual([port]);
  });

  it('does not offer excluded ports again within the lease', async () => {
    const allocator = new HostPortAllocator(docker.asDockerode(), { from: 100, to: 101 });
    const lease = await allocator.openLease();
    const [first] = lease.take(1);
    lease.exclude([first]);
    const [second] = lease.take(1);
    expect(second).not.toBe(first);
    let error: unknown;
    try {
      lease.exclude([second]);
      lease.take(1);
    } catch (caught) {
      error = caught;
    }
    expect(isCodedError(error, 'PORTS_EXHAUSTED')).toBe(true);
  });

  it('tolerates a container removed between list and inspect', async () => {
    docker.containers = [{ id: 'a', bound: [100] }];
    const allocator = new HostPortAllocator(docker.asDockerode(), { from: 100, to: 101 });
    const original = docker.getContainer.bind(docker);
    docker.getContainer = (id: string) => {
      docker.containers = [];
      return original(id);
    };
    const lease = await allocator.openLease();
    expect(lease.take(2).sort()).toEqual([100, 101]);
  });
});
