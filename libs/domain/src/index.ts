/**
 * The domain's vocabulary, below every other library: what a sandbox is (states, info, spec,
 * record, history entry) and the coded errors every layer throws. Pure: no framework, no I/O.
 */
export { CodedError, describeError, isCodedError, validationError } from './coded-error';
export { ERROR_CODES } from './error-codes';
export type { ErrorCode } from './error-codes';
export { httpStatusOf } from './http-status';
export * from './actor';
export * from './sandbox-info';
export * from './tenant';
export * from './sandbox-event';
export type { ClusterNodeFacts } from './cluster-node';
