/**
 * ROCK compatibility: ROCK's SDKs drive sandboxd unchanged. Bodies, envelope and error codes of
 * ROCK's wire contract, translated onto the domain's services (@app/sandbox); bash sessions live
 * in the container (session-scripts.ts).
 */
export { RockModule } from './rock.module';
export { RockSandboxes } from './rock-sandboxes';
export type { SpooledUpload } from './rock-sandboxes';
export type { RockEnvelope } from './rock-envelope';
export { ROCK_PREFIX, isRockPath, rockEnvelopeForError } from './rock-paths';
