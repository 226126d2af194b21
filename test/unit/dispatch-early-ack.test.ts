import type { Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/shared/config/load.ts';
import { dispatch, type DispatchOutcome } from '../../src/bot/dispatch.ts';
import type { AuditLog } from '../../src/shared/audit/audit.ts';
import { noGroups } from '../../src/shared/auth/authorize.ts';
import { createLogger } from '../../src/shared/log.ts';
import { loadRegistry } from '../../src/shared/registry/registry.ts';

const USER = 'U0VIEWER1';
const config = buildConfig({ stack: { project: 'shop' }, roles: { viewer: { users: [USER] } } }, {});
const request = (text: string) => ({ text, actor: { userId: USER, teamId: 'T0001' }, origin: { kind: 'slack' as const, channel: 'C0123' } });

function deps(add: () => Promise<unknown>, seen: string[]) {
  const jobs = { add: async () => { seen.push('enqueue'); return add(); } } as unknown as Queue;
  const audit = { record: async (e: { outcome: string }) => void seen.push(`audit ${e.outcome}`) } as unknown as AuditLog;
  return { config, jobs, audit, groups: noGroups, log: createLogger({ level: 'silent' }) };
}

describe('dispatch acks a job command before its Redis round trips', () => {
  it('hands over the full ack (request id, text) before enqueue and audit, and returns the same', async () => {
    const seen: string[] = [];
    let early: DispatchOutcome | undefined;
    const outcome = await dispatch(request('status'), { ...deps(async () => ({}), seen), registry: await loadRegistry(), onAccepted: (o) => { early = o; seen.push('ack'); } });
    expect(seen).toEqual(['ack', 'enqueue', 'audit accepted']);
    expect(early).toBe(outcome);
    expect(outcome.ephemeral.text).toContain(`request \`${outcome.requestId}\``);
    expect(outcome.ok).toBe(true);
  });

  it('an enqueue failure after the early ack still resolves with a clear error under the same request id', async () => {
    const seen: string[] = [];
    let early: DispatchOutcome | undefined;
    const outcome = await dispatch(request('status'), { ...deps(async () => { throw new Error('Connection is closed.'); }, seen), registry: await loadRegistry(), onAccepted: (o) => { early = o; } });
    expect(early?.ok).toBe(true);
    expect(outcome.ok).toBe(false);
    expect(outcome.requestId).toBe(early?.requestId);
    expect(outcome.ephemeral.text).toContain(outcome.requestId);
    expect(seen).toEqual(['enqueue', 'audit rejected']);
  });

  it('errors and answers never take the early path', async () => {
    let called = 0;
    const out = await dispatch(request('no-such'), { ...deps(async () => ({}), []), registry: await loadRegistry(), onAccepted: () => void called++ });
    expect(out.ok).toBe(false);
    const help = await dispatch(request('help'), { ...deps(async () => ({}), []), registry: await loadRegistry(), onAccepted: () => void called++ });
    expect(help.ok).toBe(true);
    expect(called).toBe(0);
  });
});
