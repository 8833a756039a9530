/**
 * The public surface for extending sandboxd: the two interfaces an extension implements and the
 * definition that names it. It depends on the domain's vocabulary only, so an extension needs
 * nothing else of sandboxd to compile.
 */
export type {
  AdmissionAction,
  AdmissionPolicy,
  AdmissionRequest,
  CreateAdmission,
  RestartAdmission,
} from './admission-policy';
export type { EventSubscriber } from './event-subscriber';
export { defineExtension } from './extension';
export { actorOfRequest } from './request-actor';
export type { SandboxdExtension } from './extension';
export type {
  Actor,
  SandboxEventRecord,
  SandboxEventType,
  SandboxEventView,
  StopReason,
} from '@app/domain';
export { CodedError, SANDBOX_EVENT_TYPES } from '@app/domain';
