import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupStore, backupNameAt } from '../../src/features/backup/store.ts';

describe('backup names', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gives a backup that begins within the second of another (a restore’s safety backup) the next second’s name', async () => {
    dir = await mkdtemp(join(tmpdir(), 'cdbt-names-'));
    const store = new BackupStore(join(dir, 'backups'), 'proj');
    const first = await store.begin();
    // The first is still partial: its name is taken all the same.
    const second = await store.begin();
    expect(second.name).not.toBe(first.name);
    expect(second.createdAt.getTime()).toBeGreaterThan(first.createdAt.getTime());
    expect(second.name).toBe(backupNameAt(second.createdAt));
    // The same second with a label is another name: no wait needed, and none taken.
    const labelled = await store.begin('pre-upgrade');
    expect(labelled.name).toMatch(/^backup-\d{8}-\d{6}-pre-upgrade$/);
    expect((await readdir(store.dir)).filter((e) => e.startsWith('.partial-'))).toHaveLength(3);
  });
});
