import 'reflect-metadata';
import { hostname } from 'node:os';
import { Transform, Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, Min, MinLength } from 'class-validator';
import { Default } from '../env/env-default';
import { emptyToUndefined, ParsedBy } from '../env/env-rules';
import { defineSlice } from '../env/slice';
import {
  LinuxCapability,
  parseArgv,
  parseCapabilityList,
  parseNetworkName,
  parsePortRange,
  sanitizeInstanceId,
} from './docker-values';

/** The bound of one kind of Docker engine call, in seconds (engine-bounds.ts). */
function CallTimeout(seconds: number): PropertyDecorator {
  return (target, property) => {
    for (const decorate of [
      Default(seconds),
      IsOptional(),
      Type(() => Number),
      IsInt(),
      Min(1),
      Max(3600),
    ]) {
      decorate(target, property);
    }
  };
}

export class DockerEnv {
  @Default('/var/run/docker.sock')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  DOCKER_SOCKET_PATH!: string;
  @Default(() => sanitizeInstanceId(hostname()), 'host name')
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^[a-zA-Z0-9_.-]{1,63}$/, {
    message: 'INSTANCE_ID must be 1-63 characters of letters, digits, _ . -',
  })
  INSTANCE_ID!: string;
  @Default('30000-39999')
  @IsOptional()
  @Transform(emptyToUndefined)
  @ParsedBy(parsePortRange)
  PORT_RANGE!: string;
  @Default('127.0.0.1')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  PORT_BIND_ADDRESS!: string;
  @Default('sleep infinity')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @MinLength(1)
  @ParsedBy(parseArgv)
  KEEPALIVE_COMMAND!: string;
  @Default(10)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(3600)
  STOP_TIMEOUT_SECONDS!: number;
  @Default(300)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3600)
  IMAGE_PULL_TIMEOUT_SECONDS!: number;
  @CallTimeout(120) DOCKER_CREATE_TIMEOUT_SECONDS!: number;
  @CallTimeout(120) DOCKER_START_TIMEOUT_SECONDS!: number;
  /** On top of the stop's own grace period (STOP_TIMEOUT_SECONDS or the call's). */
  @CallTimeout(30) DOCKER_STOP_TIMEOUT_SECONDS!: number;
  @CallTimeout(120) DOCKER_REMOVE_TIMEOUT_SECONDS!: number;
  @CallTimeout(30) DOCKER_INSPECT_TIMEOUT_SECONDS!: number;
  @CallTimeout(30) DOCKER_EXEC_START_TIMEOUT_SECONDS!: number;
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^(\*|[A-Za-z0-9_.:[\]/-]+)(,(\*|[A-Za-z0-9_.:[\]/-]+))*$/, {
    message:
      'REGISTRY_ALLOWLIST must be a comma-separated list of registry hosts, host:port, CIDRs or *',
  })
  REGISTRY_ALLOWLIST?: string;
  @Default('sandboxd')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @ParsedBy(parseNetworkName)
  SANDBOX_NETWORK!: string;
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @ParsedBy(parseCapabilityList)
  SANDBOX_CAP_ADD?: string;
}

/** The engine, and how this instance's containers are made and bounded (read by deployment). */
export class DockerConfig {
  readonly socketPath: string;
  /** This instance; every container it makes carries it as a label. */
  readonly instanceId: string;
  readonly portRange: { readonly from: number; readonly to: number };
  readonly portBindAddress: string;
  readonly keepAliveCommand: readonly string[];
  /** Grace period of a stop before SIGKILL, when the call gives none. */
  readonly stopTimeoutSeconds: number;
  readonly imagePullTimeoutSeconds: number;
  /**
   * Longest one Docker engine call of each kind may take, in ms; stop's is on top of the stop's
   * own grace period (STOP_TIMEOUT_SECONDS or the call's), so a stop is never cut short.
   */
  readonly callTimeoutsMs: {
    readonly create: number;
    readonly start: number;
    readonly stop: number;
    readonly remove: number;
    readonly inspect: number;
    readonly execStart: number;
  };
  /** Registries on non-public addresses that images may still be pulled from (`*`: any). */
  readonly registryAllowlist: readonly string[];
  /**
   * The bridge network of sandboxd's own (inter-container traffic off) that sandboxes with
   * network `bridge` are attached to; made on first use, shared by every replica on the engine.
   */
  readonly sandboxNetwork: string;
  /** Capabilities given back to every sandbox on top of the reduced set (container-config.ts). */
  readonly capAdd: readonly LinuxCapability[];

  constructor(env: DockerEnv) {
    this.socketPath = env.DOCKER_SOCKET_PATH;
    this.instanceId = env.INSTANCE_ID;
    this.portRange = parsePortRange(env.PORT_RANGE);
    this.portBindAddress = env.PORT_BIND_ADDRESS;
    this.keepAliveCommand = parseArgv(env.KEEPALIVE_COMMAND);
    this.stopTimeoutSeconds = env.STOP_TIMEOUT_SECONDS;
    this.imagePullTimeoutSeconds = env.IMAGE_PULL_TIMEOUT_SECONDS;
    this.callTimeoutsMs = {
      create: env.DOCKER_CREATE_TIMEOUT_SECONDS * 1000,
      start: env.DOCKER_START_TIMEOUT_SECONDS * 1000,
      stop: env.DOCKER_STOP_TIMEOUT_SECONDS * 1000,
      remove: env.DOCKER_REMOVE_TIMEOUT_SECONDS * 1000,
      inspect: env.DOCKER_INSPECT_TIMEOUT_SECONDS * 1000,
      execStart: env.DOCKER_EXEC_START_TIMEOUT_SECONDS * 1000,
    };
    this.registryAllowlist = env.REGISTRY_ALLOWLIST ? env.REGISTRY_ALLOWLIST.split(',') : [];
    this.sandboxNetwork = parseNetworkName(env.SANDBOX_NETWORK);
    this.capAdd = env.SANDBOX_CAP_ADD === undefined ? [] : parseCapabilityList(env.SANDBOX_CAP_ADD);
  }
}

export const DOCKER_SLICE = defineSlice(DockerEnv, DockerConfig);
