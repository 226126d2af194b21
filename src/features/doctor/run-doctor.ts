import type Docker from 'dockerode';
import type { Config } from '../../shared/config/schema.ts';
import type { CheckId, DoctorResult } from '../../shared/contracts/doctor.ts';
import { OpsError } from '../../shared/errors.ts';
import { checksFor } from './checks/index.ts';
import { collectSnapshot, runNote } from './collect.ts';
import type { HostFiles } from '../../host/host-files.ts';
import { runChecks, type PlannedFix } from './run-checks.ts';
import type { Need, Snapshot } from './types.ts';

export interface DoctorOptions {
  readonly docker: Docker;
  readonly config: Pick<Config, 'stack' | 'doctor'>;
  readonly files: HostFiles;
  readonly checks?: readonly CheckId[];
  readonly signal?: AbortSignal;
  readonly previousRestarts?: Readonly<Record<string, number>>;
}

export interface DoctorRun {
  readonly result: DoctorResult;
  readonly fixes: readonly PlannedFix[];
  /** Absent when the engine could not be reached. */
  readonly snapshot?: Snapshot;
}

/**
 * One doctor pass: gather once, run the selected checks, report. An unreachable or too slow engine is
 * a report line (DOCKER_UNAVAILABLE, status fail), so scheduled runs alert on it like on any finding.
 */
export async function runDoctor(opts: DoctorOptions): Promise<DoctorRun> {
  const started = Date.now();
  const checks = checksFor(opts.checks);
  const needs = new Set<Need>(checks.flatMap((c) => c.needs ?? []));
  const { project } = opts.config.stack;
  const base = { project, checkedAt: new Date(started).toISOString(), checks: checks.map((c) => c.id), runbookBaseUrl: opts.config.doctor.runbookBaseUrl };
  try {
    const collected = await collectSnapshot({
      docker: opts.docker,
      project,
      doctor: opts.config.doctor,
      composeFiles: opts.config.stack.composeFiles,
      files: opts.files,
      needs,
      signal: opts.signal,
      previousRestarts: opts.previousRestarts,
    });
    const { findings, fixes } = runChecks(checks, collected);
    const snap = collected.snapshot;
    const counts = { containers: snap.containers.length, volumes: snap.volumes.length, networks: snap.networks.filter((n) => n.labels['com.docker.compose.project'] === project).length, files: snap.files.size };
    return { result: { ...base, durationMs: Date.now() - started, counts, findings }, fixes, snapshot: snap };
  } catch (err) {
    if (!(err instanceof OpsError) || err.code !== 'DOCKER_UNAVAILABLE') throw err;
    const line = runNote('critical', `DOCKER_UNAVAILABLE: ${err.userMessage}`);
    return { result: { ...base, durationMs: Date.now() - started, counts: { containers: 0, volumes: 0, networks: 0, files: 0 }, findings: [line] }, fixes: [] };
  }
}
