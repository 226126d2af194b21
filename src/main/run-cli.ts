import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { Config } from '../shared/config/schema.ts';
import type { Actor } from '../shared/contracts/envelope.ts';
import { toUserError } from '../shared/errors.ts';
import { plainText } from '../shared/render/blocks.ts';
import { AuditLog, type AuditQuery } from '../shared/audit/audit.ts';
import { connectRedis, keyPrefix } from '../shared/queue/names.ts';
import { loadRegistry, resolveCommand, type Registry } from '../shared/registry/registry.ts';
import { jobOf } from '../shared/registry/define-command.ts';
import { configForTarget, resolveTarget } from '../shared/targets.ts';
import { needsApproval } from '../shared/approval/policy.ts';
import { ApprovalStore } from '../shared/approval/store.ts';
import type { ApprovalReader } from '../shared/approval/types.ts';
import { newRequestId } from '../bot/dispatch.ts';
import { createDocker } from '../host/docker-client.ts';
import { loadJobs } from '../worker/job-registry.ts';
import { runJobInline } from '../worker/run-inline.ts';
import { runAuditVerify } from './audit-verify.ts';
import { runStepUpReset } from './stepup-reset.ts';

export interface CliOptions {
  readonly argv: string[];
  readonly loadConfig: () => Config;
  readonly user: string;
  readonly log: Logger;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Replaces the commands/ folder (tests). */
  readonly registry?: Registry;
}

/** Shell-quotes nothing: argv words are re-joined only for our own tokenizer, which never runs a shell. */
function joinArgv(argv: string[]): string {
  return argv.map((a) => (/[\s"']/.test(a) ? `"${a.replace(/"/g, '')}"` : a)).join(' ');
}

/**
 * The terminal front end. Whoever runs it already has Docker access on this host, so read-only
 * commands run directly. Commands that need approval are refused here: a terminal user is not a
 * Slack identity, so they can neither request nor approve; `cdb approvals` shows the requests.
 */
export async function runCli(opts: CliOptions): Promise<number> {
  if (opts.argv[0] === 'audit' && opts.argv[1] === 'verify') {
    try {
      return await runAuditVerify({ ...opts, argv: opts.argv.slice(2) });
    } catch (err) {
      opts.stderr.write(`cdb: ${plainText(toUserError(err).message)}\n`);
      return 2;
    }
  }
  if (opts.argv[0] === 'stepup' && opts.argv[1] === 'reset') {
    try {
      return await runStepUpReset({ ...opts, argv: opts.argv.slice(2) });
    } catch (err) {
      opts.stderr.write(`cdb: ${plainText(toUserError(err).message)}\n`);
      return 2;
    }
  }
  const registry = opts.registry ?? (await loadRegistry());
  const requestId = newRequestId();
  const actor: Actor = { userId: `local:${opts.user.toLowerCase().replace(/[^a-z0-9_-]/g, '') || 'user'}`, teamId: 'local' };
  let config: Config | undefined;
  let audit: AuditLog | undefined;
  let redisClose: (() => Promise<unknown>) | undefined;
  let name = opts.argv[0] ?? 'help';
  let args: Record<string, unknown> = {};
  const started = Date.now();
  try {
    const resolved = resolveCommand(registry, joinArgv(opts.argv));
    const { command, flags } = resolved;
    name = command.name;
    args = resolved.args;
    // Redis only when a command needs it (`approvals` reads requests; jobs write the audit stream).
    let store: ApprovalStore | undefined;
    let redis: Redis | undefined;
    const connect = (): { config: Config; audit: AuditLog; store: ApprovalStore; redis: Redis } => {
      config ??= opts.loadConfig();
      if (!audit || !store || !redis) {
        const client = connectRedis(config); // quiet: an audit append that fails is logged by AuditLog
        redis = client;
        redisClose = () => client.quit().catch(() => client.disconnect());
        audit = new AuditLog(client, opts.log, `${keyPrefix(config)}:audit`, config.audit.streamMaxLen, config.secrets.auditKey);
        store = new ApprovalStore(client, keyPrefix(config));
      }
      return { config, audit, store, redis };
    };
    const approvals: ApprovalReader = {
      overview: (recent) => connect().store.overview(recent),
      get: (id) => connect().store.get(id),
    };
    const answerCtx = { actor, origin: { kind: 'cli' as const }, registry, approvals, audit: { query: (q: AuditQuery) => connect().audit.query(q) } };
    if (command.kind === 'answer') {
      opts.stdout.write(`${await command.text(resolved.args, answerCtx)}\n`);
      return 0;
    }
    // Refused before Redis or Docker is touched. The config may list more commands than the code does.
    config = opts.loadConfig();
    if (needsApproval(command, resolved.args, config)) {
      opts.stderr.write(`cdb: "${command.name}" needs a second person’s approval, which is given in Slack: run /cdb ${command.usage} there (cdb approvals lists requests). Nothing was changed.\n`);
      return 3;
    }
    const conn = connect();
    audit = conn.audit;
    const jobs = await loadJobs();
    const jobName = jobOf(command, resolved.args);
    const job = jobs.get(jobName);
    if (!job) throw new Error(`no job processor named ${jobName}`);
    // The CLI runs the job here, on this host: with targets, against the one `--on` names (or the default).
    const view = configForTarget(config, resolveTarget(config, resolved.target, command.name).name);
    const result = await runJobInline(job, resolved.args, {
      requestId, actor, config: view, docker: createDocker(view), redis: conn.redis, log: opts.log,
      progress: (text) => opts.stderr.write(`… ${text}\n`),
      notify: async () => undefined, // the CLI prints its result; alert threads are the worker's business
    });
    opts.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${command.text(result, resolved.args)}\n`);
    await audit.record({ requestId, command: name, args, actor, via: 'cli', outcome: 'succeeded', durationMs: Date.now() - started });
    return command.exitCode?.(result) ?? 0;
  } catch (err) {
    const user = toUserError(err, requestId);
    if (user.code === 'INTERNAL') opts.log.error({ err, requestId }, 'cli command failed');
    opts.stderr.write(`cdb: ${plainText(user.message)}\n`);
    await audit?.record({ requestId, command: name, args, actor, via: 'cli', outcome: 'failed', code: user.code, durationMs: Date.now() - started });
    return 2;
  } finally {
    await redisClose?.();
  }
}
