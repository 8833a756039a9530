import 'reflect-metadata';
import { Transform, Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { Default } from '../env/env-default';
import { emptyToUndefined } from '../env/env-rules';
import { defineSlice } from '../env/slice';

/** `id=image` pairs, comma-separated: template ids are E2B's (letters, digits, _ . -). */
const TEMPLATES = /^[A-Za-z0-9_.-]+=[^,=\s]+(,[A-Za-z0-9_.-]+=[^,=\s]+)*$/;

export class E2bEnv {
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(65535) E2B_PORT?: number;

  @Default('base=sandboxd/demo:latest')
  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @Matches(TEMPLATES, {
    message: 'E2B_TEMPLATES must look like base=sandboxd/demo:latest,python=python:3.12-slim',
  })
  E2B_TEMPLATES!: string;
}

/** The E2B-compatible listener (read by @app/e2b and the API's bootstrap). */
export class E2bConfig {
  /** The listener's port; null: no E2B listener. 0 picks a free port (tests). */
  readonly port: number | null;
  /** E2B template id → image. `base` is the SDK's default template. */
  readonly templates: ReadonlyMap<string, string>;

  constructor(env: E2bEnv) {
    this.port = env.E2B_PORT ?? null;
    this.templates = parseTemplates(env.E2B_TEMPLATES);
  }
}

function parseTemplates(text: string): ReadonlyMap<string, string> {
  const templates = new Map<string, string>();
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    templates.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return templates;
}

export const E2B_SLICE = defineSlice(E2bEnv, E2bConfig);
