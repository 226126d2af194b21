import type Docker from 'dockerode';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../../shared/config/schema.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import { observeContainers } from './docker-state.ts';
import { dockerEvidence, lokiEvidence, type LineSet } from './evidence.ts';
import { type AlertEvent, type ContainerState, type IncidentSettings, emptyState, sameState, transition } from './incident.ts';
import type { LokiClient } from './loki-client.ts';
import { errorCountQuery } from './logql.ts';
import { lokiDegraded, recordLokiResult } from './loki-watch.ts';
import { redactLine } from './redact.ts';
import * as render from './render.ts';
import { matchRunbook, type Runbook } from './runbooks.ts';
import { alertKeys, type CasWrite, VersionedHash } from './store.ts';
import { acquireLock } from '../../shared/lock.ts';
import type { DockerObservation, Observation, Trigger } from './symptoms.ts';

/** What a check needs besides the job context: shared Redis state, Loki, runbooks, a way back. */
export interface AlertRuntime {
  readonly redis: Redis;
  readonly loki?: LokiClient;
  runbooks(): Promise<readonly Runbook[]>;
  /** Enqueues a check for the end of a group wait. */
  scheduleFollowup(atMs: number): Promise<void>;
}

export interface CheckDeps extends AlertRuntime {
  readonly config: Config;
  readonly docker: Docker;
  readonly log: Logger;
  notify(n: render.OutgoingNotice): Promise<void>;
  readonly now?: () => number;
}

export interface CheckRequest {
  readonly trigger: Trigger;
  /** Event checks look at these containers only, and never ask Loki. */
  readonly containers?: readonly string[];
}

export interface CheckResult {
  readonly trigger: Trigger;
  readonly containers: number;
  readonly events: number;
  readonly dockerOk: boolean;
  readonly lokiOk?: boolean;
}

const ROOT_REFRESH_MS = 10_000;
const FORGET_AFTER_MS = 24 * 3_600_000;

export function incidentSettings(config: Config): IncidentSettings & render.RenderSettings {
  const a = config.alerts;
  return {
    project: config.stack.project, errorThreshold: a.errorThreshold, errorWindow: a.errorWindow, resolveAfterChecks: a.resolveAfterChecks,
    groupWaitMs: a.groupWaitSeconds * 1000, repeatIntervalMs: a.repeatIntervalMinutes * 60_000, flapWindowMs: a.flap.windowMinutes * 60_000,
    flapMaxIncidents: a.flap.maxIncidents, rootRefreshMs: ROOT_REFRESH_MS, runbookBaseUrl: a.runbookBaseUrl,
    ...(config.target ? { target: config.target.name } : {}),
  };
}

function needsEvidence(events: readonly AlertEvent[]): boolean {
  return events.some((e) => e.type === 'opened' || e.type === 'reopened' || e.type === 'escalated');
}

/** One health check: Docker (always), Loki (scheduled ticks only), then every state transition. */
export async function runAlertCheck(deps: CheckDeps, req: CheckRequest): Promise<CheckResult> {
  const { config, log } = deps;
  const now = deps.now ?? Date.now;
  const at = now();
  const settings = incidentSettings(config);
  const only = req.containers ? new Set(req.containers) : undefined;

  let docker: Map<string, DockerObservation> | undefined;
  try {
    docker = await observeContainers(deps.docker, config.stack.project, only);
  } catch (err) {
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'alerts: Docker check failed; keeping Docker-based symptoms as they were');
  }

  let errors: Map<string, number> | undefined;
  let lokiOk: boolean | undefined;
  if (req.trigger === 'tick' && deps.loki) {
    try {
      const query = errorCountQuery({ project: config.stack.project, ...config.alerts });
      const samples = await deps.loki.instant(query, at);
      errors = new Map(samples.map((s) => [(s.labels[config.alerts.containerLabel] ?? '').replace(/^\//, ''), Math.round(s.value)]));
      lokiOk = true;
      await recordLokiResult(deps, { ok: true }, at);
    } catch (err) {
      lokiOk = false;
      await recordLokiResult(deps, { ok: false, error: err instanceof Error ? err.message : String(err) }, at);
    }
  }

  const keys = alertKeys(keyPrefix(config));
  const hash = new VersionedHash<ContainerState>(deps.redis, keys.states);
  const stored = await hash.all();
  const names = only ? [...only] : [...new Set([...(docker?.keys() ?? []), ...[...(errors ?? [])].filter(([, n]) => n > 0).map(([k]) => k), ...stored.keys()])];
  const observe = (name: string): Observation => ({
    at, trigger: req.trigger,
    docker: docker ? (docker.get(name) ?? null) : undefined,
    errors: errors ? (errors.get(name) ?? 0) : undefined,
  });

  const quiet: CasWrite<ContainerState>[] = [];
  const loud: string[] = [];
  const wantEvidence: string[] = [];
  let followupAt: number | undefined;
  for (const name of names) {
    if (!name) continue;
    const prev = stored.get(name);
    const obs = observe(name);
    if (!prev && !obs.docker && !obs.errors) continue;
    const state = prev?.value ?? emptyState(name, obs.docker?.service ?? name, at);
    const t = transition(state, obs, settings);
    if (t.followupAt) followupAt = Math.min(followupAt ?? Infinity, t.followupAt);
    if (needsEvidence(t.events)) wantEvidence.push(name);
    if (t.events.length) loud.push(name);
    else if (t.next.phase === 'ok' && !obs.docker && !(obs.errors ?? 0) && at - t.next.seenAt > FORGET_AFTER_MS && docker) quiet.push({ field: name, expectedRev: prev?.rev ?? 0, value: undefined });
    else if (!prev || !sameState(state, t.next)) quiet.push({ field: name, expectedRev: prev?.rev ?? 0, value: t.next });
  }
  // A conflict means another worker wrote a newer view of that container; the next check redoes it.
  await hash.cas(quiet);

  // Between ticks, trust the last verdict on Loki: no evidence query into a known outage.
  const lokiUsable = lokiOk ?? (wantEvidence.length ? !(await lokiDegraded(deps)) : true);
  const evidence = await gatherEvidence(deps, wantEvidence, docker, lokiUsable, at);
  let sent = 0;
  for (const name of loud) sent += await applyLoud(deps, hash, keys.lock(name), name, observe(name), evidence.get(name), docker?.get(name), settings, now);
  if (followupAt !== undefined) await deps.scheduleFollowup(followupAt);
  return { trigger: req.trigger, containers: names.length, events: sent, dockerOk: docker !== undefined, lokiOk };
}

/** Evidence for the containers whose incidents are about to open: one Loki query for all of them. */
async function gatherEvidence(deps: CheckDeps, names: readonly string[], docker: Map<string, DockerObservation> | undefined, lokiUsable: boolean, at: number): Promise<Map<string, LineSet>> {
  const cfg = deps.config.alerts;
  const out = deps.loki && lokiUsable ? await lokiEvidence(deps.loki, cfg, names, at, deps.log) : new Map<string, LineSet>();
  for (const name of names) {
    const d = docker?.get(name);
    const found = out.get(name);
    // Crashes often log no "error" at all: their last words come from Docker.
    if (d && (!found || !found.lines.length)) out.set(name, await dockerEvidence(deps.docker, d, cfg.evidenceLines));
  }
  return out;
}

/**
 * Applies a transition that speaks: under the container's lock, re-read, recompute, compare-and-set,
 * then queue the notices, so the root message always precedes its thread and nothing is said twice.
 */
async function applyLoud(
  deps: CheckDeps, hash: VersionedHash<ContainerState>, lockKey: string, name: string, obs: Observation,
  lines: LineSet | undefined, d: DockerObservation | undefined, settings: ReturnType<typeof incidentSettings>, now: () => number,
): Promise<number> {
  const lock = await acquireLock(deps.redis, lockKey, { ttlMs: 15_000, waitMs: 5_000, owner: 'alerts' });
  if (!lock) return 0; // another worker is on it
  try {
    const prev = await hash.get(name);
    const state = prev?.value ?? emptyState(name, obs.docker?.service ?? name, obs.at);
    const t = transition(state, obs, settings);
    if ((await hash.cas([{ field: name, expectedRev: prev?.rev ?? 0, value: t.next }])).length) return 0;
    const notices = await noticesFor(deps, t.next, t.events, lines, d, settings, now());
    for (const n of notices) await deps.notify(n);
    return t.events.length;
  } finally {
    await lock.release();
  }
}

async function noticesFor(
  deps: CheckDeps, next: ContainerState, events: readonly AlertEvent[], lines: LineSet | undefined, d: DockerObservation | undefined,
  s: ReturnType<typeof incidentSettings>, now: number,
): Promise<render.OutgoingNotice[]> {
  const out: render.OutgoingNotice[] = [];
  const resolved = events.some((e) => e.type === 'resolved');
  const incident = resolved ? next.lastIncident : next.incident;
  if (!incident) return out;
  let evidence: render.Evidence | undefined;
  if (needsEvidence(events)) {
    const healthOutput = d?.healthOutput ? redactLine(d.healthOutput.trim(), 500) : undefined;
    const texts = [...(lines?.lines.map((l) => l.line) ?? []), healthOutput ?? ''];
    const runbook = matchRunbook(await deps.runbooks(), incident.kinds, texts);
    evidence = { source: lines?.source ?? 'no log source', lines: lines?.lines ?? [], unavailable: lines?.unavailable ?? (lines ? undefined : 'no log source is configured'), healthOutput, runbook };
  }
  for (const e of events) {
    if (e.type === 'opened') {
      out.push(render.rootNotice(next, incident, false, s, now, 'root'));
      if (evidence) out.push(render.openedThread(incident, evidence, s));
    } else if (e.type === 'reopened') {
      out.push(render.reopenedThread(incident, evidence, s), render.rootNotice(next, incident, false, s, now, 'update-root'));
    } else if (e.type === 'escalated') {
      out.push(render.escalatedThread(incident, e.added, evidence, s), render.rootNotice(next, incident, false, s, now, 'update-root'));
    } else if (e.type === 'repeated') {
      out.push(render.repeatedThread(incident, now), render.rootNotice(next, incident, false, s, now, 'update-root'));
    } else if (e.type === 'refreshed') {
      out.push(render.rootNotice(next, incident, false, s, now, 'update-root'));
    } else if (e.type === 'resolved') {
      out.push(render.resolvedThread(incident), render.rootNotice(next, incident, true, s, now, 'update-root'));
    }
  }
  return out;
}

