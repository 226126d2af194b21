import { describe, expect, it } from 'vitest';
import { choosePins } from '../../src/features/rollback/pins.ts';
import type { PlanItem } from '../../src/shared/contracts/rollback.ts';

const item = (service: string, action: PlanItem['action'], current: string, target: string, reason?: string): PlanItem => ({
  service, action, containers: [`p_${service}_1`], currentImage: current, targetImage: target, targetRef: `cdb-rollback/p/${service}:rollback-20250101-000000`, ...(reason ? { reason } : {}),
});

describe('choosePins', () => {
  const items = [
    item('core', 'recreate', 'sha256:b', 'sha256:a'),
    item('db', 'unchanged', 'sha256:a', 'sha256:a'),
    item('ghost', 'recreate', 'sha256:b', 'sha256:a'),
    item('sidecar', 'recreate', 'sha256:c', 'sha256:c', 'shares the network namespace of core; recreated on its current image'),
    item('gone', 'missing', 'sha256:a', 'sha256:a', 'no container now'),
  ];

  it('pins only services the rollback moves and a compose file declares', () => {
    const choice = choosePins(items, new Set(['core', 'db', 'sidecar', 'gone']));
    expect(choice.pins).toEqual({ core: 'cdb-rollback/p/core:rollback-20250101-000000' });
    expect(choice.note).toBe('ghost is not declared by any compose file (orphan): rolled back but not pinned');
  });

  it('pins nothing when the compose files could not be read', () => {
    expect(choosePins(items, undefined)).toEqual({ pins: {}, note: 'the compose files could not be read, so no service was pinned' });
  });

  it('has nothing to say when nothing moved', () => {
    expect(choosePins([items[1] as PlanItem], new Set(['db']))).toEqual({ pins: {} });
  });
});
