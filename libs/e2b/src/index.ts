/**
 * E2B compatibility: the e2b SDK drives sandboxd unchanged. E2B's control plane and envd's data
 * plane (Connect RPC, JSON over HTTP/1.1, plus /files and /health) on one listener, translated onto
 * the domain's services (@app/sandbox); processes keep their state in the container
 * (process-scripts.ts), so any replica serves them.
 */
export { E2bModule } from './e2b.module';
export type { E2bModuleOptions } from './e2b.module';
export { E2bCaller } from './e2b-caller';
export { E2bApiError } from './e2b-errors';
export { E2bServer } from './e2b-server';
