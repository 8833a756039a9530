import 'reflect-metadata';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { Default } from '../env/env-default';
import { emptyToUndefined, ParsedBy } from '../env/env-rules';
import { defineSlice } from '../env/slice';

/** `5s`, `30m`, `2h`, `1d` → milliseconds; throws on anything else. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,6})(ms|s|m|h|d)$/.exec(text.trim());
  if (match === null) throw new Error(`"${text}" is not a duration like 500ms, 5s, 30m, 2h or 1d`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms'];
  return Number(match[1]) * unit;
}

/** The waits between a failed delivery and its next attempt, e.g. `5s,5m,30m,2h,5h,8h,8h`. */
export function parseRetrySchedule(text: string): number[] {
  const waits = text.split(',').map(parseDuration);
  if (waits.length > 20) throw new Error('WEBHOOK_RETRY_SCHEDULE takes at most 20 waits');
  return waits;
}

export class EventsEnv {
  @Default(7)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(3650)
  EVENT_RETENTION_DAYS!: number;

  @Default('webhooks')
  @IsOptional()
  @IsString()
  @Matches(/^$|^[a-z][a-z0-9-]*(,[a-z][a-z0-9-]*)*$/, {
    message:
      'EXTENSIONS must be a comma-separated list of extension names (e.g. webhooks,image-policy)',
  })
  EXTENSIONS!: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  ALLOWED_IMAGES?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['true', 'false'], { message: 'WEBHOOK_ALLOW_PRIVATE must be true or false' })
  WEBHOOK_ALLOW_PRIVATE?: 'true' | 'false';

  @Default(10)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(60)
  WEBHOOK_TIMEOUT_SECONDS!: number;

  @Default('5s,5m,30m,2h,5h,8h,8h')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @ParsedBy(parseRetrySchedule)
  WEBHOOK_RETRY_SCHEDULE!: string;
}

/**
 * The event log, the extensions and the built-in ones' settings (libs/scheduler prunes the log;
 * the app enables EXTENSIONS; libs/extensions/webhooks and image-policy read theirs).
 */
export class EventsConfig {
  /** Events older than this are pruned. */
  readonly retentionDays: number;
  /** The extensions to load, in order (their admission policies are asked in this order). */
  readonly extensions: readonly string[];
  /** image-policy: glob patterns of the images a create may use; empty: every image. */
  readonly allowedImages: readonly string[];
  /**
   * Whether webhook URLs may resolve to loopback, private or link-local addresses; null when
   * unset: then they may while auth is off (the embedded default) and may not once it is on.
   */
  readonly webhookAllowPrivate: boolean | null;
  readonly webhookTimeoutMs: number;
  /** The wait before each retry; a delivery fails for good after the last. */
  readonly webhookRetryScheduleMs: readonly number[];

  constructor(env: EventsEnv) {
    this.retentionDays = env.EVENT_RETENTION_DAYS;
    this.extensions = env.EXTENSIONS === '' ? [] : env.EXTENSIONS.split(',');
    this.allowedImages = (env.ALLOWED_IMAGES ?? '')
      .split(',')
      .map((pattern) => pattern.trim())
      .filter((pattern) => pattern !== '');
    this.webhookAllowPrivate =
      env.WEBHOOK_ALLOW_PRIVATE === undefined ? null : env.WEBHOOK_ALLOW_PRIVATE === 'true';
    this.webhookTimeoutMs = env.WEBHOOK_TIMEOUT_SECONDS * 1000;
    this.webhookRetryScheduleMs = parseRetrySchedule(env.WEBHOOK_RETRY_SCHEDULE);
  }
}

export const EVENTS_SLICE = defineSlice(EventsEnv, EventsConfig);
