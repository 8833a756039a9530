/** The XFS project Docker put on a container's upper dir, or why there is none. */
export type RootfsProject = { projectId: number; mountPoint: string } | { reason: string };

/**
 * Whether the log dir now shares the container's project (and so its one hard limit). `shared:
 * false` is a normal outcome, not an error: the log dir is then simply unbounded.
 */
export type LogDirQuota =
  { shared: true; projectId: number; mountPoint: string } | { shared: false; reason: string };

export interface Enforcement {
  enforced: boolean;
  reason: string;
}
