import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probes, startRotationStack, type RotationStack, type SecretFile } from './rotation-fixture.ts';
import { ALERTS } from './rotation-rig.ts';
import { startRigFor, type RotationRig } from './rotation-rig.ts';

let stack: RotationStack;
let rig: RotationRig;
/** Every secret value the test has seen: none may appear in Redis, logs, Slack or audit. */
const seen = new Set<string>();

async function value(name: SecretFile): Promise<string> {
  const v = (await readFile(stack.path(name), 'utf8')).trim();
  if (v.length >= 16) seen.add(v);
  return v;
}

const redisPing = (pw: string) => stack.exec('redis', ['sh', '-c', `redis-cli --no-auth-warning -a '${pw}' ping | grep -q PONG`]);
const apiCall = (key: string) => stack.exec('api', ['sh', '-c', `wget -q -O- --header 'X-Api-Key: ${key}' http://127.0.0.1:8080/cgi-bin/check | grep -q '^ok'`]);
const pgLogin = (user: string, pw: string) => stack.exec('pgcons', ['sh', '-c', `PGPASSWORD='${pw}' psql -h pg -U ${user} -d app -Atc 'select 1'`]);
const mariaLogin = (user: string, pw: string) => stack.exec('mcons', ['sh', '-c', `MYSQL_PWD='${pw}' mariadb -h maria -u ${user} app -e 'select 1'`]);
const sees = async (service: string, file: SecretFile) => (await stack.exec(service, ['cat', `/run/secrets/${file}`])).out.trim();

async function rotateAndWait(text: string, secret: string) {
  const mark = rig.slack.calls.length;
  const id = await rig.rotate(text);
  const journal = await rig.waitDone(secret, id);
  const message = await rig.resultText(secret, mark);
  return { id, journal, message };
}

beforeAll(async () => {
  stack = await startRotationStack();
  // What compose declares (a file with top-level secrets, as the stack host's would have): one of them is not managed.
  const declared = join(stack.dir, 'declared.yml');
  const secrets = { redis_password: { file: stack.path('redis_password') }, api_key: { file: stack.path('api_key') }, wg_preshared_key: { file: join(stack.dir, 'wg_psk') } };
  await writeFile(declared, stringify({ services: { rcons: { image: 'x', secrets: ['redis_password'] }, api: { image: 'x', secrets: ['api_key'] }, wg: { image: 'x', secrets: ['wg_preshared_key'] } }, secrets }));
  const config = stack.secretsConfig().map((c) => (c.name === 'internal_api_key' ? { ...c, scheduleDays: 1 } : c));
  rig = await startRigFor(stack.project, config, { stateDir: stack.stateDir, composeFiles: [declared], rotation: { checkSchedule: '*/2 * * * * *', dueSoonDays: 7 } });
  await rig.startWorker();
  for (const f of ['redis_password', 'api_key', 'app_secret', 'pg_password', 'pg_admin', 'maria_password', 'maria_root', 'broken'] as const) await value(f);
}, 600_000);

afterAll(async () => {
  // For diagnosing a failed run: every worker's log (debug level) in one file.
  if (process.env.ROTATION_TEST_LOG && rig) await writeFile(process.env.ROTATION_TEST_LOG, rig.logs());
  await rig?.close();
  await stack?.down();
});

describe('secret rotation through the approval flow (real Redis, PostgreSQL, MariaDB, consumers)', () => {
  it('redis: ACL overlap, consumers never fail, the old password is refused, the container sees the new one', async () => {
    const old = await value('redis_password');
    const { journal, message } = await rotateAndWait('rotate redis_password', 'redis_password');
    expect(journal.status, message).toBe('succeeded');
    expect(message).toMatch(/Rotation of redis_password done/);
    const fresh = await value('redis_password');
    expect(fresh).not.toBe(old);
    expect(fresh).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(await sees('rcons', 'redis_password')).toBe(fresh);
    expect((await redisPing(fresh)).code).toBe(0);
    expect((await redisPing(old)).code).not.toBe(0);
    expect(journal.probes.find((p) => p.service === 'rcons')).toMatchObject({ failures: 0, downtimeMs: 0 });
    expect(journal.probes[0]?.probes).toBeGreaterThan(0);
  });

  it('api-key: the old key stays valid in the _old window, --finish (approved) ends it', async () => {
    const old = await value('api_key');
    const { journal, message } = await rotateAndWait('rotate internal_api_key', 'internal_api_key');
    expect(journal.status, message).toBe('succeeded');
    const fresh = await value('api_key');
    expect(fresh).not.toBe(old);
    expect(fresh).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(await sees('api', 'api_key')).toBe(fresh);
    expect(await sees('api', 'api_key_old')).toBe(old);
    expect((await apiCall(fresh)).code).toBe(0);
    expect((await apiCall(old)).code).toBe(0);
    expect(journal.probes.find((p) => p.service === 'api')).toMatchObject({ failures: 0, downtimeMs: 0 });
    // The window's end is a delayed job in Redis (it survives worker restarts).
    const delayed = await rig.redis.zrange(`${rig.prefix}:q:jobs:delayed`, 0, -1);
    expect(delayed.some((id) => id.includes('window'))).toBe(true);

    const finish = await rotateAndWait('rotate internal_api_key --finish', 'internal_api_key');
    expect(finish.journal.status, finish.message).toBe('succeeded');
    expect(await sees('api', 'api_key_old')).toBe('');
    expect((await apiCall(old)).code).not.toBe(0);
    expect((await apiCall(fresh)).code).toBe(0);
    expect((await rig.redis.zrange(`${rig.prefix}:q:jobs:delayed`, 0, -1)).some((id) => id.includes('window'))).toBe(false);
  });

  it('app-secret: rolling restart with health waits, both replicas load the new value, no failed probe, sessions warning', async () => {
    const old = await value('app_secret');
    const { journal, message } = await rotateAndWait('rotate django_secret_key', 'django_secret_key');
    expect(journal.status, message).toBe('succeeded');
    const fresh = await value('app_secret');
    expect(fresh).not.toBe(old);
    expect(fresh).toMatch(/^[A-Za-z0-9]{64}$/);
    const replicas = (await stack.stack.ps()).filter((c) => c.service === 'app');
    expect(replicas).toHaveLength(2);
    for (const c of replicas) {
      const { runCommand } = await import('../support/images.ts');
      expect((await runCommand('docker', ['exec', c.id, 'cat', '/tmp/loaded'])).stdout.trim()).toBe(fresh);
    }
    expect(journal.probes.find((p) => p.service === 'app')).toMatchObject({ failures: 0, downtimeMs: 0 });
    expect(journal.notes.join(' ')).toMatch(/sessions/i);
  });

  it('postgres: --setup (dry run in the approval request) then alternating users; the old user can no longer log in', { timeout: 480_000 }, async () => {
    const mark = rig.slack.calls.length;
    const setup = await rotateAndWait('rotate pg_password --setup', 'pg_password');
    expect(setup.journal.status, setup.message).toBe('succeeded');
    const request = rig.slack.calls.slice(mark).find((c) => c.method === 'chat.postMessage' && /Dry run/.test(JSON.stringify(c.args)));
    expect(JSON.stringify(request?.args)).toMatch(/CREATE ROLE/);
    const oldPw = await value('pg_password');
    const { journal, message } = await rotateAndWait('rotate pg_password', 'pg_password');
    expect(journal.status, message).toBe('succeeded');
    const fresh = await value('pg_password');
    expect(await sees('pgcons', 'pg_user')).toBe('app_b');
    expect(await sees('pgcons', 'pg_password')).toBe(fresh);
    expect((await pgLogin('app_b', fresh)).code).toBe(0);
    expect((await pgLogin('app_a', oldPw)).code).not.toBe(0);
    expect(journal.probes.find((p) => p.service === 'pgcons')).toMatchObject({ failures: 0, downtimeMs: 0 });
    // And back: the next rotation moves to app_a with a fresh password.
    const again = await rotateAndWait('rotate pg_password', 'pg_password');
    expect(again.journal.status, again.message).toBe('succeeded');
    expect(await sees('pgcons', 'pg_user')).toBe('app_a');
    expect((await pgLogin('app_b', fresh)).code).not.toBe(0);
    expect((await pgLogin('app_a', await value('pg_password'))).code).toBe(0);
  });

  it('mariadb: --setup then alternating users with identical grants; the old user is locked out', async () => {
    const setup = await rotateAndWait('rotate maria_password --setup', 'maria_password');
    expect(setup.journal.status, setup.message).toBe('succeeded');
    const oldPw = await value('maria_password');
    const { journal, message } = await rotateAndWait('rotate maria_password', 'maria_password');
    expect(journal.status, message).toBe('succeeded');
    const fresh = await value('maria_password');
    expect(await sees('mcons', 'maria_user')).toBe('app_b');
    expect((await mariaLogin('app_b', fresh)).code).toBe(0);
    expect((await mariaLogin('app_a', oldPw)).code).not.toBe(0);
    expect(journal.probes.find((p) => p.service === 'mcons')).toMatchObject({ failures: 0, downtimeMs: 0 });
  });

  it('a failing test step rolls back to the previous value and says so', async () => {
    const old = await value('broken');
    const { journal, message } = await rotateAndWait('rotate broken_key', 'broken_key');
    expect(journal.status).toBe('rolled-back');
    expect(message).toMatch(/ROLLED BACK/);
    expect(await value('broken')).toBe(old);
    expect(journal.notes.join(' ')).toMatch(/Restored the previous secret/);
  });

  it('unknown names are refused with the list; the inventory never shows a value', async () => {
    const mark = rig.slack.responses.length;
    const ack = await rig.slash('rotate nope_secret');
    const text = /Working on it/.test(ack) ? String((await rig.slack.waitForResponse((r) => rig.slack.responses.indexOf(r) >= mark && !/Working on it/.test(String(r.text)), 60_000)).text) : ack;
    expect(text).toMatch(/not a managed secret/);
    expect(text).toMatch(/redis_password/);
  });

  it('/cdb secrets: every secret, managed or declared by compose, with consumers and age; never a value', async () => {
    const mark = rig.slack.calls.length;
    await rig.slash('secrets');
    const call = await rig.slack.waitForCall((c) => rig.slack.calls.indexOf(c) >= mark && /secrets: \d+ overdue/.test(String(c.args.text)), 60_000);
    const body = JSON.stringify(call.args);
    for (const name of ['redis_password', 'internal_api_key', 'django_secret_key', 'pg_password', 'maria_password', 'wg_preshared_key']) expect(body).toContain(name);
    expect(body).toMatch(/unmanaged/);
    expect(body).toMatch(/rcons/);
    expect(body, body).toMatch(/by (U0ALICE|u0alice)/);
  });

  it('the scheduled check posts a secret due soon to the alerts channel once per day, however often it runs', async () => {
    const alerts = () => rig.slack.calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === ALERTS && /internal_api_key/.test(String(c.args.text)));
    await waitForCond(() => alerts().length >= 1, 'the due-soon alert');
    // BullMQ's event stream records every completion (the completed set is trimmed).
    const runs = async () => (await rig.redis.xrange(`${rig.prefix}:q:jobs:events`, '-', '+')).filter(([, f]) => f.includes('completed') && f.some((v) => v.includes('secrets-check'))).length;
    const before = await runs();
    await waitForCond(async () => (await runs()) >= before + 2, 'two more scheduled checks');
    expect(alerts()).toHaveLength(1);
    expect(rig.slack.calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === ALERTS && /redis_password/.test(String(c.args.text)))).toHaveLength(0);
  });
});

async function waitForCond(pred: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const { waitFor } = await import('../support/compose-stack.ts');
  await waitFor(pred, { what, timeoutMs: 120_000, intervalMs: 250 });
}

/** Every pending value the worker left on the stack host so far (they must not leak either). */
async function collectPending(): Promise<void> {
  for (const f of await readdir(stack.stateDir).catch(() => [] as string[])) {
    const v = (await readFile(join(stack.stateDir, f), 'utf8').catch(() => '')).trim();
    if (v.length >= 16) seen.add(v);
  }
}

const CONSUMER_PROBE: Record<string, { service: string; probe: string[] }> = {
  redis_password: { service: 'rcons', probe: probes.redis },
  internal_api_key: { service: 'api', probe: probes.api },
  django_secret_key: { service: 'app', probe: probes.app },
  pg_password: { service: 'pgcons', probe: probes.pg },
  maria_password: { service: 'mcons', probe: probes.maria },
};

describe('a worker killed (SIGKILL) at every step: the next one finishes or rolls back', () => {
  beforeAll(async () => {
    await rig.killWorker('SIGTERM');
  });
  afterAll(async () => {
    await rig.killWorker('SIGKILL');
    await rig.startWorker();
  });

  for (const secret of Object.keys(CONSUMER_PROBE)) {
    it(`${secret}: killed after each of create-pending, set, test, finish; consumers keep a working credential`, { timeout: 480_000 }, async () => {
      const { service, probe } = CONSUMER_PROBE[secret] as { service: string; probe: string[] };
      const steps = ['create-pending', 'set', 'test', 'finish'];
      const files: Record<string, SecretFile> = { redis_password: 'redis_password', internal_api_key: 'api_key', django_secret_key: 'app_secret', pg_password: 'pg_password', maria_password: 'maria_password' };
      const old = await value(files[secret] as SecretFile);
      await rig.startWorker(`${steps[0]}:after`);
      const mark = rig.slack.calls.length;
      const id = await rig.rotate(`rotate ${secret}`);
      for (let i = 0; i < steps.length; i++) {
        await rig.waitPaused(secret, `${steps[i]}:after`);
        await collectPending();
        await value(files[secret] as SecretFile);
        // Stopped mid-rotation: the consumer still has a working credential.
        expect((await stack.exec(service, probe)).code, `${service} after ${steps[i]}`).toBe(0);
        if (i === 0) {
          const ack = await rig.slash(`rotate ${secret}`);
          const refused = /Working on it/.test(ack) ? String((await rig.slack.waitForResponse((r) => /already in progress|ROTATION_IN_PROGRESS/.test(String(r.text)), 60_000)).text) : ack;
          expect(refused).toMatch(/already in progress/);
        }
        await rig.killWorker('SIGKILL');
        await rig.startWorker(i + 1 < steps.length ? `${steps[i + 1]}:after` : undefined);
      }
      const journal = await rig.waitDone(secret, id);
      expect(journal.status, JSON.stringify(journal)).toBe('succeeded');
      expect(journal.workers.length).toBe(5);
      expect(journal.notes.join(' ')).toMatch(/took over/);
      const message = await rig.resultText(secret, mark);
      expect(message).toMatch(/resumed by another worker/);
      const fresh = await value(files[secret] as SecretFile);
      expect(fresh).not.toBe(old);
      expect((await stack.exec(service, probe)).code).toBe(0);
      if (secret === 'redis_password') expect((await redisPing(old)).code).not.toBe(0);
      expect((await readdir(stack.stateDir)).filter((f) => f.startsWith(`${secret}.`))).toEqual([]);
      await rig.killWorker('SIGTERM');
    });
  }

  it('killed while rolling back: the next worker completes the rollback', { timeout: 480_000 }, async () => {
    const old = await value('broken');
    await rig.startWorker('rollback:before');
    const id = await rig.rotate('rotate broken_key');
    await rig.waitPaused('broken_key', 'rollback:before');
    await collectPending();
    await rig.killWorker('SIGKILL');
    await rig.startWorker();
    const journal = await rig.waitDone('broken_key', id);
    expect(journal.status).toBe('rolled-back');
    expect(await value('broken')).toBe(old);
    expect((await stack.exec('api', probes.api)).code).toBe(0);
    await rig.killWorker('SIGTERM');
  });
});

describe('no secret value anywhere', () => {
  it('appears in Redis keys or values, the worker logs, Slack calls or the audit stream', async () => {
    await collectPending();
    expect(seen.size).toBeGreaterThan(15);
    const dump: string[] = [];
    for (const key of await rig.redis.keys(`${rig.prefix}:*`)) {
      dump.push(key);
      const type = await rig.redis.type(key);
      if (type === 'string') dump.push((await rig.redis.get(key)) ?? '');
      else if (type === 'hash') dump.push(JSON.stringify(await rig.redis.hgetall(key)));
      else if (type === 'list') dump.push(JSON.stringify(await rig.redis.lrange(key, 0, -1)));
      else if (type === 'set') dump.push(JSON.stringify(await rig.redis.smembers(key)));
      else if (type === 'zset') dump.push(JSON.stringify(await rig.redis.zrange(key, 0, -1)));
      else if (type === 'stream') dump.push(JSON.stringify(await rig.redis.xrange(key, '-', '+')));
    }
    const redisText = dump.join('\n');
    const audit = JSON.stringify(await rig.redis.xrange(`${rig.prefix}:audit`, '-', '+'));
    expect(audit.length).toBeGreaterThan(100);
    const slack = JSON.stringify(rig.slack.calls) + JSON.stringify(rig.slack.responses);
    const logs = rig.logs();
    expect(logs.length).toBeGreaterThan(1000);
    for (const v of seen) {
      expect(redisText.includes(v), 'a secret value in Redis').toBe(false);
      expect(slack.includes(v), 'a secret value in a Slack call').toBe(false);
      expect(logs.includes(v), 'a secret value in the worker logs').toBe(false);
    }
  });
});

