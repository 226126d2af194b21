export interface RestartedContainer {
  readonly name: string;
  readonly ok: boolean;
  /** State after the restart (running, restarting, exited…), or why it failed. */
  readonly detail: string;
}

export interface RestartResult {
  readonly project: string;
  readonly service: string;
  readonly containers: readonly RestartedContainer[];
}
