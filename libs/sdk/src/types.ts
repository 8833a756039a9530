import type { components, operations } from './generated/api';

/**
 * Friendly names for the API's schemas. Every shape comes from the generated OpenAPI types so the
 * SDK cannot drift from the service; only what the document cannot express is derived here.
 */
type Schemas = components['schemas'];

export type SandboxView = Schemas['SandboxView'];
export type SandboxState = SandboxView['state'];
export type SandboxOperation = SandboxView['operation'];
/** `bridge`: sandboxd's own network, where sandboxes cannot reach each other; `none`: only lo. */
export type SandboxNetwork = SandboxView['network'];
export type StateTransition = Schemas['StateTransitionView'];
export type SandboxPage = Schemas['SandboxPage'];
export type ErrorBody = Schemas['ErrorView'];
export type ExecRequest = Schemas['ExecDto'];
export type ExecResult = Schemas['ExecResultView'];
export type WrittenFile = Schemas['WrittenFileView'];
export type DirectoryEntry = Schemas['DirectoryEntryView'];
export type DirectoryListing = Schemas['DirectoryListingView'];
export type Port = Schemas['PortView'];
export type PortsView = Schemas['PortsView'];
export type TenantView = Schemas['TenantView'];
export type NodeList = Schemas['NodeListView'];
export type NodeView = Schemas['NodeView'];
export type TenantLimitsView = Schemas['TenantLimitsView'];
export type TenantUsageView = Schemas['TenantUsageView'];
/** PUT /v1/admin/tenants/:tenant/limits: absent keeps a limit, null clears it. */
export type TenantLimitsRequest = Schemas['TenantLimitsDto'];
export type CreateApiKeyRequest = Schemas['CreateApiKeyDto'];
export type CreatedApiKey = Schemas['CreatedApiKeyView'];
export type ApiKeySummary = Schemas['ApiKeyView'];

/** A map of string values, as the API echoes labels back. */
type StringMap = SandboxView['labels'];

/**
 * The create body. The document types env and labels as empty records and ports as strings (the
 * DTO's decorators say less than its validators), so those three are restated from shapes the
 * document does get right: the labels map and PortView's container port.
 */
export type CreateSandboxRequest = Omit<Schemas['CreateSandboxDto'], 'env' | 'labels' | 'ports'> & {
  env?: StringMap;
  labels?: StringMap;
  ports?: Port['containerPort'][];
};

/** The list endpoint's query string as the document describes it. */
export type ListSandboxesParams = NonNullable<
  operations['SandboxController_list']['parameters']['query']
>;

/** Options of a command run with exec: everything in the request but the command itself. */
export type ExecOptions = Omit<ExecRequest, 'command' | 'env'> & {
  env?: StringMap;
  /** Aborts the request, which kills the command in the sandbox. */
  signal?: AbortSignal;
};

/** How exec output is given: UTF-8 text, or base64 of the exact bytes (see outputBytes). */
export type OutputEncoding = NonNullable<ExecRequest['outputEncoding']>;

/**
 * One event of a streamed exec: a chunk of output (UTF-8 text, or with `outputEncoding:
 * 'base64'` that chunk's own base64) or, last, how it ended.
 */
export type ExecOutputEvent = { type: 'stdout' | 'stderr'; data: string };
export type ExecExitEvent = { type: 'exit' } & Omit<
  ExecResult,
  'stdout' | 'stderr' | 'outputEncoding'
>;
export type ExecEvent = ExecOutputEvent | ExecExitEvent;
