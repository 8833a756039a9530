import { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_REDIS_URL, unmountUnder } from '../app';
import { createScratchDatabase } from '../database';
import { newAdminKey } from '../api-keys';
import { DEMO_IMAGE } from '../docker';
import { MAIN_PATH, waitUntilLive } from '../server-process';
import { nodeIp } from './netns';
import { SwarmCluster } from './swarm-cluster';

/** The ports every instance listens on inside its node's namespace: its API, its E2B listener. */
const API_PORT = 8080;
const E2B_PORT = 49983;

/** One sandboxd instance, in its node's namespace, on its node's engine. */
export interface ClusterInstance {
  index: number;
  instanceId: string;
  /** Where the test reaches it (the harness's relay on the host's 127.0.0.1). */
  url: string;
  /** Where the test reaches its E2B listener (E2B_PORT; the SDK's apiUrl and sandboxUrl). */
  e2bUrl: string;
  /** Where the other instances reach it, on the cluster network. */
  advertised: string;
  child: ChildProcess | null;
  output: string;
}

export interface SandboxdClusterOptions {
  nodes: number;
  /** Added to every instance's environment. */
  env?: Record<string, string>;
}

/**
 * sandboxd on a real Docker Swarm (SwarmCluster): one instance per node (the built
 * dist/apps/sandbox-api/main.js, run inside the node's network namespace with nsenter), each on
 * its node's engine through the engine's socket, all on one scratch PostgreSQL database and
 * Redis (relayed into each namespace's 127.0.0.1), with CLUSTER=swarm and one cluster secret.
 * Instances talk to each other on the cluster network (10.213.0.x); the test reaches each through
 * its relay on 127.0.0.1. stop() removes all of it: processes, containers, engines, namespaces,
 * the database, the log roots.
 */
export class SandboxdCluster {
  readonly adminKey = newAdminKey();
  readonly instances: ClusterInstance[] = [];
  private readonly env: Record<string, string>;

  private constructor(
    readonly swarm: SwarmCluster,
    private readonly dir: string,
    private readonly dropDatabase: () => Promise<void>,
    databaseUrl: string,
    extra: Record<string, string>,
  ) {
    this.env = {
      HOST: '0.0.0.0',
      PORT: String(API_PORT),
      LOG_LEVEL: 'warn',
      ADMIN_API_KEY: this.adminKey,
      DATABASE_URL: databaseUrl,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: `sandboxd-cluster:${randomBytes(4).toString('hex')}:`,
      SECRETS_KEY: randomBytes(32).toString('base64'),
      CLUSTER: 'swarm',
      CLUSTER_SECRET: randomBytes(32).toString('base64'),
      CLUSTER_HEARTBEAT_SECONDS: '2',
      NODE_LOST_SECONDS: '10',
      CLUSTER_CONNECT_TIMEOUT_SECONDS: '3',
      STOP_TIMEOUT_SECONDS: '2',
      E2B_PORT: String(E2B_PORT),
      E2B_TEMPLATES: `base=${DEMO_IMAGE}`,
      ...extra,
    };
  }

  static async start(options: SandboxdClusterOptions): Promise<SandboxdCluster> {
    const swarm = await SwarmCluster.start({ nodes: options.nodes });
    const dir = mkdtempSync(join(tmpdir(), 'sandboxd-cluster-'));
    let database: Awaited<ReturnType<typeof createScratchDatabase>> | null = null;
    try {
      database = await createScratchDatabase('cluster');
      const cluster = new SandboxdCluster(
        swarm,
        dir,
        database.drop,
        database.url,
        options.env ?? {},
      );
      // One at a time: the first runs the migrations (the others would wait on their lock).
      for (let i = 0; i < options.nodes; i += 1) await cluster.startInstance(i);
      return cluster;
    } catch (error) {
      await database?.drop().catch(() => undefined);
      await swarm.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  instance(index: number): ClusterInstance {
    const instance = this.instances[index];
    if (instance === undefined) throw new Error(`no instance ${index}`);
    return instance;
  }

  /** Starts (or starts again) node `index`'s instance and waits until it answers. */
  async startInstance(index: number): Promise<ClusterInstance> {
    const known = this.instances[index];
    const instance: ClusterInstance = known ?? {
      index,
      instanceId: `cluster-node-${index}`,
      url: await this.swarm.exposeHttp(index, API_PORT),
      e2bUrl: await this.swarm.exposeHttp(index, E2B_PORT),
      advertised: `http://${nodeIp(index)}:${API_PORT}`,
      child: null,
      output: '',
    };
    this.instances[index] = instance;
    const child = this.swarm.spawnInNode(index, process.execPath, [MAIN_PATH], {
      ...this.env,
      INSTANCE_ID: instance.instanceId,
      DOCKER_SOCKET_PATH: this.swarm.node(index).socketPath,
      CLUSTER_ADVERTISE_URL: instance.advertised,
      LOG_ROOT: join(this.dir, `node-${index}`, 'logs'),
    });
    instance.child = child;
    child.stdout?.on('data', (chunk: Buffer) => (instance.output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (instance.output += chunk.toString('utf8')));
    await waitUntilLive(child, instance.url, () => instance.output);
    return instance;
  }

  /** Kills node `index`'s instance (SIGKILL: a lost machine says goodbye to no one). */
  async killInstance(index: number): Promise<void> {
    const child = this.instance(index).child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  async stop(): Promise<void> {
    const problems: string[] = [];
    for (const instance of this.instances) {
      const child = instance.child;
      if (child === null || child.exitCode !== null || child.signalCode !== null) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      });
    }
    await this.swarm.stop().catch((error: unknown) => problems.push(String(error)));
    await this.dropDatabase().catch((error: unknown) => problems.push(String(error)));
    unmountUnder(this.dir);
    rmSync(this.dir, { recursive: true, force: true });
    if (problems.length > 0) throw new Error(`cluster teardown: ${problems.join('; ')}`);
  }
}
