import { Counter, Histogram, Registry } from 'prom-client';

/**
 * Counters and histograms that code in either process increments where the event happens. They live
 * in one module-level registry (bot and worker are separate processes; `npm run dev` runs both and
 * then simply shares the counters). Gauges that need a process's own connections (queue depth, open
 * incidents) are made per process by the health server (see health-server.ts).
 */
export const sharedMetrics = new Registry();

export const commandsTotal = new Counter({
  name: 'cdb_commands_total',
  help: 'Slash commands handled by the bot, by subcommand and outcome (answered, accepted, approval_requested, rejected).',
  labelNames: ['command', 'outcome'] as const,
  registers: [sharedMetrics],
});

export const ackSeconds = new Histogram({
  name: 'cdb_ack_seconds',
  help: 'Time from the slash command reaching the bot to its ack being sent.',
  // Slack gives 3 s; the interesting part is well below that.
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3],
  registers: [sharedMetrics],
});

export const jobsTotal = new Counter({
  name: 'cdb_jobs_total',
  help: 'Jobs processed by the worker, by job name and outcome (succeeded, failed, refused).',
  labelNames: ['job', 'outcome'] as const,
  registers: [sharedMetrics],
});

export const jobSeconds = new Histogram({
  name: 'cdb_job_duration_seconds',
  help: 'Run time of jobs by job name and outcome.',
  labelNames: ['job', 'outcome'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [sharedMetrics],
});

export const approvalsTotal = new Counter({
  name: 'cdb_approvals_total',
  help: 'Two-person approval events by outcome (as written to the audit stream).',
  labelNames: ['outcome'] as const,
  registers: [sharedMetrics],
});

export const lokiErrorsTotal = new Counter({
  name: 'cdb_loki_errors_total',
  help: 'Failed Loki requests by kind (timeout, unreachable, http, bad-response).',
  labelNames: ['kind'] as const,
  registers: [sharedMetrics],
});

export const dockerErrorsTotal = new Counter({
  name: 'cdb_docker_errors_total',
  help: 'Failed Docker Engine API calls by error code (ECONNREFUSED, EACCES, HTTP status, ...).',
  labelNames: ['code'] as const,
  registers: [sharedMetrics],
});

/** Label values come from a closed set: user text must not create time series. */
export function commandLabel(name: string, known: (n: string) => boolean): string {
  return known(name) ? name : 'unknown';
}
