import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Test-only fault injection, so crash tests kill a worker at an exact step instead of after a
 * guessed delay. Inert unless both variables are set in the worker's environment (nothing a chat
 * user can reach): CDB_TEST_PAUSE_AT names points (`stop:before,start:after`), CDB_TEST_PAUSE_DIR a
 * directory. At a named point the worker writes `<dir>/<point>.reached` and waits until
 * `<dir>/<point>.go` exists. Each point pauses once per process.
 */
const passed = new Set<string>();

export async function pausePoint(point: string): Promise<void> {
  const at = process.env.CDB_TEST_PAUSE_AT;
  const dir = process.env.CDB_TEST_PAUSE_DIR;
  if (!at || !dir || passed.has(point) || !at.split(',').includes(point)) return;
  passed.add(point);
  const file = join(dir, point.replace(/[^a-z0-9-]/gi, '_'));
  writeFileSync(`${file}.reached`, `${process.pid}\n`);
  while (!existsSync(`${file}.go`)) await new Promise((r) => setTimeout(r, 20));
}
