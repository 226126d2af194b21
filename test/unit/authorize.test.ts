import { describe, expect, it } from 'vitest';
import { authorize, checkChannel, highestRole, type GroupDirectory } from '../../src/shared/auth/authorize.ts';
import { buildConfig } from '../../src/shared/config/load.ts';

const config = buildConfig(
  {
    stack: { project: 'cdb' },
    channels: { commands: ['C0OPS'] },
    roles: { viewer: { users: ['U0VIEW'] }, operator: { users: ['U0OPER'], groups: ['S0OPS'] }, approver: { users: ['U0APPR'] } },
  },
  {},
);
const groups: GroupDirectory = { members: async (id) => new Set(id === 'S0OPS' ? ['U0INGROUP'] : []) };
const actor = (userId: string) => ({ userId, teamId: 'T0001' });

describe('authorisation', () => {
  it('ranks roles: approver ⊇ operator ⊇ viewer', async () => {
    expect(await highestRole(actor('U0APPR'), config, groups)).toBe('approver');
    await expect(authorize(actor('U0APPR'), 'operator', config, groups)).resolves.toBe('approver');
    await expect(authorize(actor('U0OPER'), 'viewer', config, groups)).resolves.toBe('operator');
    await expect(authorize(actor('U0VIEW'), 'operator', config, groups)).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('grants roles through user groups and fails closed for everyone else', async () => {
    await expect(authorize(actor('U0INGROUP'), 'operator', config, groups)).resolves.toBe('operator');
    await expect(authorize(actor('U0NOBODY'), 'viewer', config, groups)).rejects.toThrowError(/you have none/);
  });

  it('needs no role for everyone-commands', async () => {
    await expect(authorize(actor('U0NOBODY'), 'everyone', config, groups)).resolves.toBe('everyone');
  });

  it('matches by user ID, never by display name', async () => {
    await expect(authorize({ userId: 'U0OTHER', teamId: 'T0001', name: 'U0APPR' }, 'viewer', config, groups)).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('accepts commands only in allowed channels when a list is set', () => {
    expect(() => checkChannel('C0OPS', config)).not.toThrow();
    expect(() => checkChannel('C0RANDOM', config)).toThrowError(/not accepted in this channel/);
    expect(() => checkChannel('C0RANDOM', buildConfig({ stack: { project: 'x' } }, {}))).not.toThrow();
  });
});
