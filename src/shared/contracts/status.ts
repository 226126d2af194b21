import { z } from 'zod';

/** Compose service names: what compose itself accepts, and nothing a shell would interpret. */
export const serviceName = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'a service name: letters, digits, ".", "_" and "-", at most 63 characters');

export interface PortBinding {
  readonly ip: string;
  readonly privatePort: number;
  readonly publicPort?: number;
  readonly protocol: string;
  /** Bound on every interface (0.0.0.0 or ::): the seeds require 127.0.0.1. */
  readonly exposed: boolean;
}

export interface ContainerStatus {
  readonly id: string;
  readonly name: string;
  readonly service: string;
  readonly state: string;
  readonly health?: 'healthy' | 'unhealthy' | 'starting';
  readonly restartCount: number;
  /**
   * Docker says "restarting" only during its back-off; a container caught in its brief "running"
   * moment between crashes is still crash-looping. True when the restart policy restarted it
   * within CRASH_LOOP_WINDOW_MS, or Docker reports it restarting.
   */
  readonly crashLoop: boolean;
  readonly startedAt?: string;
  readonly uptimeMs?: number;
  readonly exitCode?: number;
  readonly image: string;
  readonly ports: PortBinding[];
}

export const CRASH_LOOP_WINDOW_MS = 30_000;

export interface StatusResult {
  readonly project: string;
  readonly service?: string;
  readonly checkedAt: string;
  readonly containers: ContainerStatus[];
}
