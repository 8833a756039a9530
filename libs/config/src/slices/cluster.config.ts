import 'reflect-metadata';
import { applyDecorators } from '@nestjs/common';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength } from 'class-validator';
import { Default } from '../env/env-default';
import { emptyToUndefined } from '../env/env-rules';
import { defineSlice } from '../env/slice';

export const CLUSTER_MODES = ['off', 'swarm'] as const;
export type ClusterMode = (typeof CLUSTER_MODES)[number];

/** The shortest CLUSTER_SECRET taken: it is all that stands between the cluster port and a forged caller. */
export const CLUSTER_SECRET_MIN_LENGTH = 32;

/** An optional origin other instances reach this one at: http(s)://host:port, no path. */
function AdvertisedUrl(name: string): PropertyDecorator {
  return applyDecorators(
    IsOptional(),
    Transform(emptyToUndefined),
    Matches(/^https?:\/\/[^/\s]+$/, {
      message: `${name} must be http(s)://host:port, with no path (e.g. http://10.0.0.5:8080)`,
    }),
  );
}

/** A whole number of seconds in [min, max], `fallback` when unset. */
function Seconds(fallback: number, min: number, max: number): PropertyDecorator {
  return applyDecorators(
    Default(fallback),
    IsOptional(),
    Type(() => Number),
    IsInt(),
    Min(min),
    Max(max),
  );
}

export class ClusterEnv {
  @Default('off')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(CLUSTER_MODES, { message: 'CLUSTER must be off or swarm' })
  CLUSTER!: ClusterMode;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @MinLength(CLUSTER_SECRET_MIN_LENGTH, {
    message: `CLUSTER_SECRET must be at least ${CLUSTER_SECRET_MIN_LENGTH} characters (e.g. openssl rand -base64 32)`,
  })
  CLUSTER_SECRET?: string;

  @AdvertisedUrl('CLUSTER_ADVERTISE_URL')
  CLUSTER_ADVERTISE_URL?: string;

  @AdvertisedUrl('CLUSTER_ADVERTISE_E2B_URL')
  CLUSTER_ADVERTISE_E2B_URL?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, {
    message: 'CLUSTER_ADVERTISE_SUBNET must be an IPv4 CIDR such as 10.213.128.0/24',
  })
  CLUSTER_ADVERTISE_SUBNET?: string;

  @Seconds(5, 1, 60)
  CLUSTER_HEARTBEAT_SECONDS!: number;

  @Seconds(60, 3, 86_400)
  NODE_LOST_SECONDS!: number;

  @Seconds(5, 1, 60)
  CLUSTER_CONNECT_TIMEOUT_SECONDS!: number;
}

/**
 * Cluster mode (libs/cluster): several hosts of one Docker Swarm, one instance per node, sharing
 * PostgreSQL and Redis. Off by default: nothing changes on a single host.
 */
export class ClusterConfig {
  readonly mode: ClusterMode;
  /** Proves a call between instances (forwarded requests, remote creates); null when off. */
  readonly secret: string | null;
  /** Where the other instances reach this one's API; null: derived at boot (see libs/cluster). */
  readonly advertiseUrl: string | null;
  /** Where they reach its E2B listener; null: the advertised host with E2B_PORT. */
  readonly advertiseE2bUrl: string | null;
  /** With no advertise URL: the subnet whose address of this host is advertised (a stack network). */
  readonly advertiseSubnet: string | null;
  readonly heartbeatMs: number;
  /** A node whose instance has not beaten for this long is lost: its sandboxes are stopped. */
  readonly nodeLostMs: number;
  /** How long a forwarded call may take to reach its owner before 503 NODE_UNAVAILABLE. */
  readonly connectTimeoutMs: number;

  constructor(env: ClusterEnv) {
    this.mode = env.CLUSTER;
    this.secret = env.CLUSTER_SECRET ?? null;
    this.advertiseUrl = env.CLUSTER_ADVERTISE_URL ?? null;
    this.advertiseE2bUrl = env.CLUSTER_ADVERTISE_E2B_URL ?? null;
    this.advertiseSubnet = env.CLUSTER_ADVERTISE_SUBNET ?? null;
    this.heartbeatMs = env.CLUSTER_HEARTBEAT_SECONDS * 1000;
    this.nodeLostMs = env.NODE_LOST_SECONDS * 1000;
    this.connectTimeoutMs = env.CLUSTER_CONNECT_TIMEOUT_SECONDS * 1000;
  }

  get enabled(): boolean {
    return this.mode !== 'off';
  }
}

/** Rules across the cluster variables, in swarm mode: its secret, and a loss slower than beats. */
export function clusterProblems(cluster: ClusterConfig): string[] {
  if (!cluster.enabled) return [];
  if (cluster.secret === null) {
    return ['CLUSTER=swarm needs CLUSTER_SECRET (the same on every node)'];
  }
  if (cluster.nodeLostMs <= 2 * cluster.heartbeatMs) {
    return ['NODE_LOST_SECONDS must be more than twice CLUSTER_HEARTBEAT_SECONDS'];
  }
  return [];
}

export const CLUSTER_SLICE = defineSlice(ClusterEnv, ClusterConfig);
