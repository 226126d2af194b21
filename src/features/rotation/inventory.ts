import { wireguardSecretRows } from './wireguard/ages.ts';
import type { Redis } from 'ioredis';
import type { Config } from '../../shared/config/schema.ts';
import type { SecretRow, SecretsInventory } from '../../shared/contracts/rotation.ts';
import { readCompose } from '../../host/compose/read.ts';
import { hostFilesFor } from '../../host/host-files.ts';
import { keyPrefix } from '../../shared/queue/names.ts';
import type { SecretHost } from './engine.ts';
import { RotationJournal } from './journal.ts';
import { KINDS } from './registry.ts';

const DAY = 86_400_000;

/**
 * Every secret: the managed ones from config and every secret the compose files declare (unmanaged
 * until configured), with consumers, schedule, last rotation and age. Names, paths and dates
 * only: a value, hash or length is never read into the result.
 */
export async function buildInventory(config: Config, redis: Redis, host: SecretHost, now = Date.now()): Promise<SecretsInventory> {
  const problems: string[] = [];
  const journal = new RotationJournal(redis, keyPrefix(config));
  const declared = new Map<string, { file?: string; consumers: string[] }>();
  if (config.stack.composeFiles.length) {
    const files = hostFilesFor(config, 'inspect');
    const read = await readCompose(files, config.stack.composeFiles, config.stack.project).finally(() => files.close());
    if (read.problem) problems.push(read.problem);
    for (const [name, s] of Object.entries(read.model?.secrets ?? {})) {
      const consumers = Object.entries(read.model?.services ?? {}).filter(([, svc]) => svc.secrets.includes(name)).map(([svc]) => svc).sort();
      declared.set(name, { file: s.file, consumers });
    }
  } else {
    problems.push('stack.composeFiles is not set: only the configured secrets are listed');
  }
  const active = new Set(await journal.active());
  const rows: SecretRow[] = [];
  const ageOf = async (file: string | undefined, last: { at: number } | undefined): Promise<{ ageDays?: number; ageSource?: 'rotation' | 'file' }> => {
    if (last) return { ageDays: (now - last.at) / DAY, ageSource: 'rotation' };
    const mtime = file ? await host.modifiedAt?.(file).catch(() => undefined) : undefined;
    return mtime === undefined ? {} : { ageDays: (now - mtime) / DAY, ageSource: 'file' };
  };
  const seenFiles = new Set<string>();
  for (const s of config.rotation.secrets) {
    const last = await journal.last(s.name);
    const scheduleDays = s.scheduleDays ?? KINDS.get(s.kind)?.defaultScheduleDays ?? 90;
    const age = await ageOf(s.file, last);
    const left = age.ageDays === undefined ? undefined : scheduleDays - age.ageDays;
    const fromCompose = [...declared.entries()].find(([n, d]) => n === s.name || d.file === s.file);
    const consumers = [...new Set([...s.consumers.map((c) => c.service), ...(fromCompose?.[1].consumers ?? [])])].sort();
    const windowRaw = await journal.get(s.name);
    const windowUntil = typeof windowRaw?.state.windowUntil === 'number' && windowRaw.state.windowUntil > now ? windowRaw.state.windowUntil : undefined;
    seenFiles.add(s.file);
    if (fromCompose) declared.delete(fromCompose[0]);
    rows.push({
      name: s.name, managed: true, kind: s.kind, file: s.file, consumers, scheduleDays,
      ...(last ? { lastRotation: { at: last.at, by: last.by, ...(last.byName ? { byName: last.byName } : {}) } } : {}),
      ...age,
      due: left === undefined ? undefined : left <= 0 ? 'overdue' : left <= config.rotation.dueSoonDays ? 'soon' : 'ok',
      inProgress: active.has(s.name),
      ...(windowUntil ? { windowUntil } : {}),
    });
  }
  for (const [name, d] of declared) {
    if (d.file && seenFiles.has(d.file)) continue;
    rows.push({ name, managed: false, file: d.file, consumers: d.consumers, ...(await ageOf(d.file, undefined)) });
  }
  // WireGuard keys live on the tunnel's hosts (issue 13): listed with their age against 365 days.
  if (config.wireguard.tunnels.length) {
    const wg = await wireguardSecretRows(config).catch((err: unknown) => {
      problems.push(`WireGuard key ages could not be read: ${(err as Error).message}`);
      return [];
    });
    for (const { where: _where, error, ...row } of wg) {
      rows.push(row);
      if (error) problems.push(`${row.name}: ${error}`);
    }
  }
  rows.sort((a, b) => Number(b.managed) - Number(a.managed) || a.name.localeCompare(b.name));
  return { rows, problems, dueSoonDays: config.rotation.dueSoonDays };
}
