import type { Config } from '../../../shared/config/schema.ts';
import { isOpsError } from '../../../shared/errors.ts';
import { openHost as openReach, type CommandHost } from './host.ts';
import { inspect } from './wg-ops.ts';

/** One WireGuard private key as `/cdb secrets` lists it: where, and how old against its schedule. */
export interface WgKeyAge {
  readonly name: string;
  readonly kind: 'wireguard';
  readonly tunnel: string;
  readonly endpoint: string;
  readonly where: string;
  readonly file: string;
  readonly scheduleDays: number;
  /** When private.key was last written (a rotation commits it in place); undefined when unreadable. */
  readonly rotatedAt?: string;
  readonly ageDays?: number;
  readonly state: 'ok' | 'due-soon' | 'overdue' | 'unknown';
  readonly error?: string;
}

const DAY = 86_400;

/**
 * The data source for `/cdb secrets`: each tunnel endpoint's private key, its age from the key
 * file's mtime on its host (the host's own clock), against the tunnel's schedule (365 days by
 * default, the seeds' table). Reads metadata only; no key leaves its host.
 */
export async function wireguardKeyAges(config: Pick<Config, 'ssh' | 'wireguard'> & { readonly rotation?: { readonly dueSoonDays: number } }, open: (reach: string) => Promise<CommandHost> = (r) => openReach(r, config)): Promise<WgKeyAge[]> {
  const out: WgKeyAge[] = [];
  for (const t of config.wireguard.tunnels) {
    for (const e of t.endpoints) {
      const base = { name: `wireguard:${t.name}:${e.name}`, kind: 'wireguard' as const, tunnel: t.name, endpoint: e.name, where: e.host, file: `${e.keyDir}/private.key`, scheduleDays: t.scheduleDays };
      let host: CommandHost | undefined;
      try {
        host = await open(e.host);
        const s = await inspect(host, e.interface, e.keyDir);
        if (s.keyFileMtime === undefined) {
          out.push({ ...base, state: 'unknown', error: 'private.key is missing' });
          continue;
        }
        const ageDays = Math.max(0, Math.floor((s.now - s.keyFileMtime) / DAY));
        // The same "soon" as the other secrets (rotation.dueSoonDays).
        const state = ageDays >= t.scheduleDays ? 'overdue' : ageDays >= t.scheduleDays - (config.rotation?.dueSoonDays ?? 7) ? 'due-soon' : 'ok';
        out.push({ ...base, rotatedAt: new Date(s.keyFileMtime * 1000).toISOString(), ageDays, state });
      } catch (err) {
        out.push({ ...base, state: 'unknown', error: (isOpsError(err) ? err.userMessage : (err as Error).message).slice(0, 200) });
      } finally {
        await host?.close().catch(() => undefined);
      }
    }
  }
  return out;
}

/**
 * The same keys as rows of `/cdb secrets` (the shape of `SecretRow` in src/contracts/rotation.ts on
 * the rotation branch): `rows.push(...(await wireguardSecretRows(config)))` lists them.
 */
export async function wireguardSecretRows(config: Pick<Config, 'ssh' | 'wireguard'> & { readonly rotation?: { readonly dueSoonDays: number } }, open?: (reach: string) => Promise<CommandHost>): Promise<{
  name: string; managed: true; kind: 'wireguard'; file: string; consumers: string[]; scheduleDays: number;
  ageDays?: number; ageSource?: 'file'; due?: 'overdue' | 'soon' | 'ok'; where: string; error?: string;
}[]> {
  const ages = await wireguardKeyAges(config, open);
  return ages.map((a) => ({
    name: a.name, managed: true, kind: 'wireguard', file: a.file, consumers: [`${a.tunnel} (${a.endpoint})`], scheduleDays: a.scheduleDays, where: a.where,
    ...(a.ageDays !== undefined ? { ageDays: a.ageDays, ageSource: 'file' as const } : {}),
    ...(a.state === 'unknown' ? {} : { due: a.state === 'due-soon' ? ('soon' as const) : a.state }),
    ...(a.error ? { error: a.error } : {}),
  }));
}
