import { z } from 'zod';
import { badRequest } from './rock-errors';

/**
 * Reading ROCK request bodies. Like ROCK's own server (pydantic), unknown fields are ignored and
 * `null` means "not given"; unlike a framework's 422, a bad field is a 200 Failed envelope whose
 * message names the field ("invalid parameter: sandbox_id: must not be blank").
 */

/** A string that is not empty or only blanks (ROCK's NonBlankStr), kept as sent. */
export const nonBlank = z
  .string()
  .refine((value) => value.trim().length > 0, { message: 'must not be blank' });

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('invalid parameter: the request body must be a JSON object');
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const field = issue.path.map(String).join('.') || 'body';
    return `${field}: ${issue.message}`;
  });
  throw badRequest(`invalid parameter: ${problems.join('; ')}`);
}

/** ROCK's query booleans: Python's str(bool) ("True"/"False") and the usual spellings. */
export function parseQueryBool(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (lower === 'true' || lower === '1') return true;
    if (lower === 'false' || lower === '0' || lower === '') return false;
  }
  throw badRequest(`invalid parameter: ${field}: must be True or False`);
}

export function parseQueryId(value: unknown): string {
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw badRequest('invalid parameter: sandbox_id: must not be blank');
  }
  return value;
}
