// `/cdb rotate wireguard <tunnel>` goes through the one `rotate` command: which job it picks, what the
// approval binds, what config refuses, how the result reads.
import { describe, expect, it } from 'vitest';
import { loadRegistry, resolveCommand } from '../../src/shared/registry/registry.ts';
import { jobOf, runsJob, type AnyCommand } from '../../src/shared/registry/define-command.ts';
import { loadJobs } from '../../src/worker/job-registry.ts';
import { buildConfig } from '../../src/shared/config/load.ts';
import { approvalDigest } from '../../src/shared/approval/digest.ts';
import { jobNeedsApproval } from '../../src/shared/approval/policy.ts';
import { OpsError } from '../../src/shared/errors.ts';
import type { WgRotationResult } from '../../src/shared/contracts/wireguard.ts';
import rotate from '../../commands/rotate.ts';

const registry = await loadRegistry();
const config = buildConfig({ stack: { project: 'demo' } }, {}, '(unit)');

function refusal(text: string): string {
  try {
    resolveCommand(registry, text);
  } catch (err) {
    if (err instanceof OpsError) return `${err.code}: ${err.userMessage}`;
    throw err;
  }
  return 'accepted';
}

describe('/cdb rotate wireguard <tunnel>', () => {
  it('is the rotate command choosing the WireGuard job; rotate-wireguard is gone', async () => {
    const wg = resolveCommand(registry, 'rotate wireguard web-services --on web');
    expect(wg.command.name).toBe('rotate');
    expect(wg.args).toEqual({ secret: 'wireguard', tunnel: 'web-services' });
    expect(wg.target).toBe('web');
    expect(jobOf(wg.command as never, wg.args)).toBe('rotate-wireguard');
    const secret = resolveCommand(registry, 'rotate redis_password --setup');
    expect(secret.args).toEqual({ secret: 'redis_password', setup: true });
    expect(jobOf(secret.command as never, secret.args)).toBe('rotate');
    expect(registry.has('rotate-wireguard')).toBe(false);
    // Every job the command may pick has a processor.
    const jobs = await loadJobs();
    if (rotate.kind !== 'job') throw new Error('rotate is a job command');
    for (const j of [rotate.job, ...(rotate.otherJobs ?? [])]) expect(jobs.has(j), j).toBe(true);
    expect(runsJob(rotate as AnyCommand, 'rotate-wireguard')).toBe(true);
    expect(runsJob(rotate as AnyCommand, 'restart')).toBe(false);
  });

  it('refuses malformed forms with a word on what is wrong', () => {
    expect(refusal('rotate wireguard')).toMatch(/^BAD_ARGUMENTS: name the tunnel: `\/cdb rotate wireguard &lt;tunnel&gt;`/);
    expect(refusal('rotate wireguard Web;rm')).toMatch(/^BAD_ARGUMENTS: tunnel: a tunnel name such as web-services/);
    expect(refusal('rotate wireguard web-services --setup')).toMatch(/^BAD_ARGUMENTS: unknown option --setup/);
    expect(refusal('rotate redis_password extra')).toMatch(/^BAD_ARGUMENTS: rotate takes one secret name/);
    expect(refusal('rotate wireguard a b')).toMatch(/^BAD_ARGUMENTS: Too many arguments/);
  });

  it('a secret named wireguard is refused by config validation', () => {
    expect(() => buildConfig({ stack: { project: 'demo' }, rotation: { secrets: [{ name: 'wireguard', kind: 'app-secret', file: '/run/secrets/wireguard' }] } }, {}, '(unit)')).toThrow(/no secret may be named wireguard/);
  });

  it('needs approval, has no plan job, and the approval binds job, tunnel and target', () => {
    const args = { secret: 'wireguard', tunnel: 'web-services' };
    expect(rotate.approval).toBe(true);
    expect(rotate.role).toBe('operator');
    expect(rotate.approvalSummary?.(args as never)[0]).toMatch(/tunnel web-services.*both hosts/);
    expect(rotate.approvalPlan?.args?.(args as never)).toBeUndefined();
    expect(rotate.approvalPlan?.args?.({ secret: 'redis_password' } as never)).toEqual({ secret: 'redis_password' });
    // The worker's gate: a job named rotate-wireguard needs approval whatever command the envelope names.
    expect(jobNeedsApproval(registry, config, 'rotate', 'rotate-wireguard', args)).toBe(true);
    expect(jobNeedsApproval(registry, config, 'status', 'rotate-wireguard', args)).toBe(true);
    const base = { id: 'r1', command: 'rotate', job: 'rotate-wireguard', args, requester: { userId: 'U1', teamId: 'T1' }, channel: 'C1', target: 'web' };
    const digest = approvalDigest(base);
    expect(approvalDigest({ ...base, target: 'services' })).not.toBe(digest);
    expect(approvalDigest({ ...base, args: { ...args, tunnel: 'other' } })).not.toBe(digest);
    expect(approvalDigest({ ...base, job: 'rotate' })).not.toBe(digest);
  });

  it('renders a WireGuard result with its outage against the seeds’ 30–60 s', () => {
    const r: WgRotationResult = { mode: 'rotate', secret: 'web-services', kind: 'wireguard', status: 'succeeded', steps: [{ name: 'apply', ms: 120 }], probes: [], notes: [], resumed: false, totalMs: 2300, outageMs: 300 };
    const args = { secret: 'wireguard', tunnel: 'web-services' } as never;
    if (rotate.kind !== 'job') throw new Error('rotate is a job command');
    expect(rotate.text(r, args)).toMatch(/Rotated the WireGuard keys of tunnel web-services on both hosts in 2\.3 s\. Measured tunnel outage: 300 ms .*30–60 s/);
    expect(JSON.stringify(rotate.slack(r, args).blocks)).toContain('WireGuard rotation · web-services');
    expect(rotate.exitCode?.({ ...r, status: 'rolled-back' })).toBe(1);
  });
});
