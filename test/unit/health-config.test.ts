import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/shared/config/load.ts';

const file = { stack: { project: 'shop' } };

describe('health endpoint settings', () => {
  it('defaults: enabled, 127.0.0.1, bot 9464, worker 9465 (different, so dev and one host can run both)', () => {
    const c = buildConfig(file, {});
    expect(c.health).toEqual({ enabled: true, host: '127.0.0.1', botPort: 9464, workerPort: 9465 });
  });
  it('HEALTH_PORT sets the port of the process it is given to; HEALTH_HOST the address', () => {
    const c = buildConfig(file, { HEALTH_PORT: '8088', HEALTH_HOST: '0.0.0.0' });
    expect(c.health).toMatchObject({ host: '0.0.0.0', botPort: 8088, workerPort: 8088 });
  });
  it('the config file can set them', () => {
    const c = buildConfig({ ...file, health: { botPort: 1234, workerPort: 1235, enabled: false } }, {});
    expect(c.health).toMatchObject({ enabled: false, botPort: 1234, workerPort: 1235 });
  });
  it('refuses a port that is not one', () => {
    expect(() => buildConfig(file, { HEALTH_PORT: 'abc' })).toThrow(/health\.botPort/);
    expect(() => buildConfig(file, { HEALTH_HOST: 'evil host' })).toThrow(/health\.host/);
  });
});
