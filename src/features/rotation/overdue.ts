import type { Redis } from 'ioredis';
import type { SecretRow, SecretsInventory } from '../../shared/contracts/rotation.ts';

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Secrets overdue or due soon that were not posted yet today: a SET NX per secret and UTC day,
 * so several workers or several runs a day still post each secret once a day.
 */
export async function dueToday(redis: Redis, prefix: string, inv: SecretsInventory, now = Date.now()): Promise<SecretRow[]> {
  const out: SecretRow[] = [];
  for (const row of inv.rows) {
    if (!row.managed || (row.due !== 'overdue' && row.due !== 'soon')) continue;
    const fresh = await redis.set(`${prefix}:rotation:alerted:${row.name}:${day(now)}`, '1', 'EX', 2 * 86_400, 'NX');
    if (fresh === 'OK') out.push(row);
  }
  return out;
}

export function dueLine(row: SecretRow): string {
  const age = row.ageDays === undefined ? '?' : Math.floor(row.ageDays);
  const left = row.scheduleDays !== undefined && row.ageDays !== undefined ? Math.ceil(row.scheduleDays - row.ageDays) : undefined;
  const when = row.due === 'overdue' ? `OVERDUE by ${Math.max(0, -(left ?? 0))} d` : `due in ${left ?? '?'} d`;
  // WireGuard rows are named wireguard:<tunnel>:<endpoint>; the tunnel is rotated as a whole.
  const how = row.kind === 'wireguard' ? `/cdb rotate wireguard ${row.name.split(':')[1] ?? '<tunnel>'}` : `/cdb rotate ${row.name}`;
  return `${row.name} (${row.kind ?? '?'}): ${when}, age ${age} d of ${row.scheduleDays ?? '?'} d. Rotate with ${how}`;
}
