import { describe, expect, it } from 'vitest';
import { newApprovalId } from '../../src/shared/approval/store.ts';
import { APPROVAL_ID } from '../../src/shared/approval/types.ts';
import { tokenize } from '../../src/shared/registry/tokenize.ts';

describe('approval ids', () => {
  it('can always be typed after /cdb approvals: never a leading "-", which the tokenizer reads as an option', () => {
    // One random id in 64 began with "-" before; 10,000 ids miss that case with probability e^-156.
    const ids = Array.from({ length: 10_000 }, newApprovalId);
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(ids.every((id) => APPROVAL_ID.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids.slice(0, 200)) expect(tokenize(`approvals ${id}`).words).toEqual(['approvals', id]);
  });
});
