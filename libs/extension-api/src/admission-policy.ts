import type { Actor, SandboxEventView } from '@app/domain';

export type AdmissionAction = 'create' | 'restart';

/** A create, as sandboxd will run it (after its own validation). */
export interface CreateAdmission {
  action: 'create';
  actor: Actor;
  image: string;
  name: string | null;
  labels: Readonly<Record<string, string>>;
  cpus: number | null;
  memoryBytes: number | null;
  runtime: string;
}

/** A restart of a stopped sandbox. */
export interface RestartAdmission {
  action: 'restart';
  actor: Actor;
  image: string;
  sandbox: SandboxEventView;
}

export type AdmissionRequest = CreateAdmission | RestartAdmission;

/**
 * Asked before every create and restart, whichever door it comes through (/v1, ROCK, E2B), before
 * any record or container exists. To refuse, throw a CodedError with a 4xx code (for example
 * `ADMISSION_REFUSED` or `IMAGE_NOT_ALLOWED`): the API answers it unchanged. Return to allow.
 * Policies are asked in the order EXTENSIONS lists them; the first refusal wins.
 */
export interface AdmissionPolicy {
  admit(request: AdmissionRequest): void | Promise<void>;
}
