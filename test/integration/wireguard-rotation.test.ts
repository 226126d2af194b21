// WireGuard key rotation across two real "hosts": network namespaces with their own sshd (pinned
// host keys) and wireguard-go interfaces. The worker (this process) reaches both over SSH only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFile, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { buildConfig } from '../../src/shared/config/load.ts';
import type { Config } from '../../src/shared/config/schema.ts';
import { createLogger } from '../../src/shared/log.ts';
import { recoverWireguardRotations, rotateWireguard, type WgRunDeps } from '../../src/features/rotation/wireguard/run.ts';
import { wireguardKeyAges } from '../../src/features/rotation/wireguard/ages.ts';
import { openWgJournals } from '../../src/features/rotation/wireguard/journal.ts';
import { journalAlive } from '../../src/shared/journal.ts';
import { buildInventory } from '../../src/features/rotation/inventory.ts';
import { localSecretHost } from '../../src/features/rotation/secret-host.ts';
import { dueLine } from '../../src/features/rotation/overdue.ts';
import type { SecretRow } from '../../src/shared/contracts/rotation.ts';
import secrets from '../../commands/secrets.ts';
import { randomSuffix } from '../support/compose-stack.ts';
import { REDIS_URL } from '../support/harness.ts';
import { startNetnsPair, type NetnsHost, type NetnsPair } from '../support/netns-hosts.ts';

const TUNNEL = 'web-services';

describe('WireGuard key rotation across two hosts', () => {
  let pair: NetnsPair;
  let redis: Redis;
  let config: Config;
  let configPath: string;
  let logs = '';
  const secretsSeen = new Set<string>();

  const deps = (extra: Partial<WgRunDeps> = {}): WgRunDeps => ({
    config, redis, workerId: `test-${randomSuffix()}`, leaseMs: 1500,
    log: createLogger({ level: 'debug', destination: new Writable({ write(c, _e, cb) { logs += String(c); cb(); } }) }),
    ...extra,
  });
  const request = (id: string) => ({ requestId: id, command: 'rotate', args: { secret: 'wireguard', tunnel: TUNNEL }, origin: { kind: 'cli' }, actor: { userId: 'local:test', teamId: 'local' } });
  const key = async (h: NetnsHost, f: string) => (await readFile(join(h.keyDir, f), 'utf8')).trim();
  const running = async (h: NetnsHost) => (await h.exec(['wg', 'show', h.iface, 'public-key'])).stdout.trim();
  const peers = async (h: NetnsHost) => (await h.exec(['wg', 'show', h.iface, 'peers'])).stdout.trim().split('\n').filter(Boolean);
  /** Every private and preshared key the hosts ever held: none may show up in Redis or logs. */
  const collectSecrets = async () => {
    for (const h of [pair.a, pair.b]) for (const f of ['private.key', 'preshared.key']) secretsSeen.add(await key(h, f));
  };

  beforeAll(async () => {
    pair = await startNetnsPair();
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const endpoint = (h: NetnsHost) => ({ name: h.name === 'a' ? 'web' : 'services', host: `ssh://root@${h.sshHost}:22`, interface: h.iface, keyDir: h.keyDir, tunnelAddress: h.tunnelIp });
    const raw = {
      stack: { project: `cdbt${randomSuffix()}` },
      redis: { url: REDIS_URL, prefix: `cdbt-wg-${randomSuffix()}` },
      ssh: { privateKeyFile: pair.privateKeyPath, knownHostsFile: pair.knownHostsPath },
      wireguard: { tunnels: [
        { name: TUNNEL, endpoints: [endpoint(pair.a), endpoint(pair.b)], verifySeconds: 20 },
        // The same two interfaces, with a short verification, for the test that breaks both ways back.
        { name: 'fragile', endpoints: [endpoint(pair.a), endpoint(pair.b)], verifySeconds: 4 },
        // For /cdb secrets: one endpoint without its key directory, one whose host cannot be read.
        { name: 'broken', endpoints: [{ ...endpoint(pair.a), keyDir: '/nonexistent-cdbt/wg' }, { ...endpoint(pair.b), host: 'ssh://root@127.0.0.1:1' }] },
      ] },
    };
    config = buildConfig(raw, {}, '(wireguard test)');
    configPath = join(pair.dir, 'config.json');
    await writeFile(configPath, JSON.stringify(raw));
  });

  afterAll(async () => {
    if (redis) {
      const keys = await redis.keys(`${config.redis.prefix}:*`);
      if (keys.length) await redis.del(...keys);
      await redis.quit();
    }
    await pair?.stop();
  });

  it('rotates both sides with a measured outage; the old key no longer completes a handshake', async () => {
    await collectSecrets();
    const old = { a: await running(pair.a), b: await running(pair.b) };
    await copyFile(join(pair.a.keyDir, 'private.key'), join(pair.dir, 'a-old.key'));
    expect(await pair.tunnelUp()).toBe(true);

    const result = await rotateWireguard(deps(), TUNNEL, request('wgtest00001'), () => undefined, new AbortController().signal);
    expect(result.status, result.error).toBe('succeeded');
    expect(result.steps.map((s) => s.name)).toEqual(['inspect', 'generate', 'apply', 'verify', 'commit']);
    expect(result.probes[0]?.probes).toBeGreaterThan(0);
    expect(result.outageMs).toBeTypeOf('number');

    const now = { a: await running(pair.a), b: await running(pair.b) };
    expect(now.a).not.toBe(old.a);
    expect(now.b).not.toBe(old.b);
    // Each side runs the key in its key directory and knows only the other's new key.
    expect(await key(pair.a, 'public.key')).toBe(now.a);
    expect(await key(pair.a, 'peer.pub')).toBe(now.b);
    expect(await peers(pair.a)).toEqual([now.b]);
    expect(await peers(pair.b)).toEqual([now.a]);
    expect((await pair.a.exec(['wg', 'pubkey'], `${await key(pair.a, 'private.key')}\n`)).stdout.trim()).toBe(now.a);
    expect(await key(pair.a, 'preshared.key')).toBe(await key(pair.b, 'preshared.key'));
    expect((await readdir(pair.a.keyDir)).filter((f) => f.endsWith('.new'))).toEqual([]);
    expect(await pair.tunnelUp()).toBe(true);
    await collectSecrets();

    // Someone with A's old private key: B no longer accepts it, no handshake, no traffic.
    await pair.a.exec(['wg', 'set', pair.a.iface, 'private-key', join(pair.dir, 'a-old.key')]);
    expect(await pair.tunnelUp(3000)).toBe(false);
    await pair.a.exec(['wg', 'set', pair.a.iface, 'private-key', join(pair.a.keyDir, 'private.key')]);
    expect(await pair.tunnelUp()).toBe(true);

    const ages = (await wireguardKeyAges(config)).filter((x) => x.tunnel === TUNNEL);
    expect(ages.map((x) => [x.endpoint, x.state, x.ageDays, x.scheduleDays])).toEqual([['web', 'ok', 0, 365], ['services', 'ok', 0, 365]]);
  });

  it('/cdb secrets lists each endpoint’s key with its age against the 365-day schedule; unreadable ones are problems', async () => {
    const inventory = async () => {
      const inv = await buildInventory(config, redis, localSecretHost());
      return { inv, wg: inv.rows.filter((r) => r.kind === 'wireguard') };
    };
    const fresh = await inventory();
    const row = (name: string) => fresh.wg.find((r) => r.name === name);
    expect(row(`wireguard:${TUNNEL}:web`)).toMatchObject({ managed: true, file: `${pair.a.keyDir}/private.key`, consumers: [`${TUNNEL} (web)`], scheduleDays: 365, ageDays: 0, ageSource: 'file', due: 'ok' });
    expect(row(`wireguard:${TUNNEL}:services`)).toMatchObject({ scheduleDays: 365, ageDays: 0, due: 'ok' });
    // Read failures: no age, no due mark, and a problem naming the key and why.
    for (const name of ['wireguard:broken:web', 'wireguard:broken:services']) {
      expect(row(name)?.ageDays).toBeUndefined();
      expect(row(name)?.due).toBeUndefined();
    }
    expect(fresh.inv.problems).toEqual(expect.arrayContaining([
      'wireguard:broken:web: private.key is missing',
      expect.stringMatching(/^wireguard:broken:services: .*127\.0\.0\.1/),
    ]));

    // Keys written 400 and 360 days ago (the key file's mtime, read on its host): overdue and due soon.
    const ago = (days: number) => new Date(Date.now() - days * 86_400_000);
    const aKey = join(pair.a.keyDir, 'private.key');
    const bKey = join(pair.b.keyDir, 'private.key');
    const [aWas, bWas] = [await stat(aKey), await stat(bKey)];
    await utimes(aKey, ago(400), ago(400));
    await utimes(bKey, ago(360), ago(360));
    try {
      const old = await inventory();
      const web = old.wg.find((r) => r.name === `wireguard:${TUNNEL}:web`);
      const services = old.wg.find((r) => r.name === `wireguard:${TUNNEL}:services`);
      expect([web?.ageDays, web?.due]).toEqual([400, 'overdue']);
      expect([services?.ageDays, services?.due]).toEqual([360, 'soon']);
      const text = secrets.kind === 'job' ? secrets.text(old.inv, {}) : '';
      expect(text).toMatch(new RegExp(`wireguard:${TUNNEL}:web\\s+wireguard\\s.*365 d.*400 d \\(file\\)\\s+OVERDUE`));
      expect(text).toMatch(new RegExp(`wireguard:${TUNNEL}:services\\s.*360 d \\(file\\)\\s+soon`));
      // The scheduled check tells how to rotate it: the tunnel, not the key.
      expect(dueLine(web as SecretRow)).toBe(`wireguard:${TUNNEL}:web (wireguard): OVERDUE by 35 d, age 400 d of 365 d. Rotate with /cdb rotate wireguard ${TUNNEL}`);
    } finally {
      await utimes(aKey, aWas.atime, aWas.mtime);
      await utimes(bKey, bWas.atime, bWas.mtime);
    }
  });

  it('a failing wg set on the second host restores the old keys on both sides', async () => {
    const old = { a: await running(pair.a), b: await running(pair.b), psk: await key(pair.a, 'preshared.key') };
    const sabotage = async (step: string) => {
      // The second host's `wg set` cannot read its new key: it fails, the first host's succeeds.
      if (step === 'apply') await rm(join(pair.b.keyDir, 'private.key.new'));
    };
    const result = await rotateWireguard(deps({ beforeStep: sabotage }), TUNNEL, request('wgtest00002'), () => undefined, new AbortController().signal);
    expect(result.status).toBe('rolled-back');
    expect(result.error).toMatch(/apply: wg set/);
    expect(result.notes.join(' ')).toMatch(/Restored the old keys/);
    expect(await running(pair.a)).toBe(old.a);
    expect(await running(pair.b)).toBe(old.b);
    expect(await peers(pair.a)).toEqual([old.b]);
    expect(await peers(pair.b)).toEqual([old.a]);
    expect(await key(pair.a, 'preshared.key')).toBe(old.psk);
    for (const h of [pair.a, pair.b]) expect((await readdir(h.keyDir)).filter((f) => f.endsWith('.new'))).toEqual([]);
    expect(await pair.tunnelUp()).toBe(true);
  });

  for (const dieAt of ['apply', 'verify', 'commit']) {
    it(`a worker SIGKILLed before ${dieAt} is finished by the next worker`, async () => {
      const old = { a: await running(pair.a), b: await running(pair.b) };
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/wg-rotate-child.ts', configPath, TUNNEL, dieAt, REDIS_URL], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
      const signal = await new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, sig) => r(sig)));
      expect(signal, out).toBe('SIGKILL');

      // The one journal (src/shared/journal.ts): still open, its owner's heartbeat about to expire.
      const { live, orphans } = await openWgJournals(redis, config.redis.prefix, TUNNEL);
      expect([...live, ...orphans].map((j) => [j.requestId, j.status, j.kind])).toEqual([['wgchild0001', 'running', 'wireguard-rotation']]);
      // A new request meanwhile is refused: the interrupted one is finished first.
      await expect(rotateWireguard(deps(), TUNNEL, request('wgtest00009'), () => undefined, new AbortController().signal)).rejects.toMatchObject({ code: 'WG_ROTATION_BUSY' });
      if (dieAt === 'apply') {
        // Dead for sure (its heartbeat expired): still, a worker of another target leaves it alone.
        const id = [...live, ...orphans][0]?.id ?? '';
        const until = Date.now() + 30_000;
        while ((await journalAlive(redis, config.redis.prefix, id)) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
        expect(await recoverWireguardRotations(deps({ target: 'services' }))).toEqual([]);
        expect((await openWgJournals(redis, config.redis.prefix, TUNNEL)).orphans.map((j) => j.id)).toEqual([id]);
      }
      // The next worker: recovers once the dead worker's journal heartbeat has expired.
      let recovered: Awaited<ReturnType<typeof recoverWireguardRotations>> = [];
      const until = Date.now() + 30_000;
      while (!recovered.length && Date.now() < until) {
        recovered = await recoverWireguardRotations(deps());
        if (!recovered.length) await new Promise((r) => setTimeout(r, 200));
      }
      const result = recovered[0]?.result;
      expect(result?.resumed).toBe(true);
      expect(result?.status, result?.error).toBe('succeeded');
      const now = { a: await running(pair.a), b: await running(pair.b) };
      expect(now.a).not.toBe(old.a);
      expect(now.b).not.toBe(old.b);
      expect(await peers(pair.a)).toEqual([now.b]);
      expect(await peers(pair.b)).toEqual([now.a]);
      expect(await key(pair.b, 'public.key')).toBe(now.b);
      expect(await pair.tunnelUp()).toBe(true);
      await collectSecrets();
    });
  }

  it('when even the old keys cannot be restored, the alerts channel hears it loudly', async () => {
    const old = { a: await running(pair.a), b: await running(pair.b) };
    const bPrivate = await readFile(join(pair.b.keyDir, 'private.key'), 'utf8');
    const stray = join(pair.dir, 'stray.key');
    await writeFile(stray, (await pair.b.exec(['wg', 'genkey'])).stdout, { mode: 0o600 });
    const alerts: string[] = [];
    const sabotage = async (step: string) => {
      if (step !== 'verify') return;
      // B loses its old key file and runs a third key: neither the new nor the old keys can work.
      await rm(join(pair.b.keyDir, 'private.key'));
      await pair.b.exec(['wg', 'set', pair.b.iface, 'private-key', stray]);
    };
    const result = await rotateWireguard(deps({ beforeStep: sabotage, alert: async (t) => void alerts.push(t) }), 'fragile', request('wgtest00003'), () => undefined, new AbortController().signal);
    expect(result.status).toBe('failed');
    expect(result.notes.join(' ')).toMatch(/MANUAL INTERVENTION NEEDED/);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatch(/fragile.*mismatched keys.*manual intervention/s);
    await collectSecrets().catch(() => undefined);

    // The operator's repair (runbooks/wireguard-rotation.md): put the old key back on B.
    await writeFile(join(pair.b.keyDir, 'private.key'), bPrivate, { mode: 0o600 });
    const newA = await running(pair.a) === old.a ? undefined : await running(pair.a);
    expect(newA).toBeUndefined(); // A was restored to its old key
    const stalePeers = (await peers(pair.b)).filter((p) => p !== old.a);
    await pair.b.exec(['wg', 'set', pair.b.iface, 'private-key', join(pair.b.keyDir, 'private.key'), 'peer', old.a, 'preshared-key', join(pair.b.keyDir, 'preshared.key'),
      'allowed-ips', `${pair.a.tunnelIp}/32`, 'endpoint', `${pair.a.linkIp}:${pair.a.listenPort}`, ...stalePeers.flatMap((p) => ['peer', p, 'remove'])]);
    for (const h of [pair.a, pair.b]) for (const f of ['private.key.new', 'preshared.key.new']) await rm(join(h.keyDir, f), { force: true });
    expect(await running(pair.b)).toBe(old.b);
    expect(await pair.tunnelUp()).toBe(true);
  });

  it('no private or preshared key ever reached Redis or the logs', async () => {
    await collectSecrets();
    expect(secretsSeen.size).toBeGreaterThanOrEqual(8);
    const keys = await redis.keys(`${config.redis.prefix}:*`);
    const values = (await Promise.all(keys.map((k) => redis.get(k)))).join('\n');
    expect(values).toContain('wireguard');
    for (const s of secretsSeen) {
      expect(values).not.toContain(s);
      expect(logs).not.toContain(s);
    }
  });
});
