import { describe, expect, it } from '@jest/globals';
import { redisConnectionOptions, redisTargetOf } from './connection.js';

describe('redisConnectionOptions', () => {
  it('maps a plain URL to host, port and db, without credentials or TLS', () => {
    expect(redisConnectionOptions('redis://127.0.0.1:6379')).toEqual({ host: '127.0.0.1', port: 6379 });
    expect(redisConnectionOptions('redis://cache/3')).toEqual({ host: 'cache', port: 6379, db: 3 });
    expect(redisConnectionOptions('redis://[::1]:7000')).toEqual({ host: '::1', port: 7000 });
  });

  it('takes the user and password from the URL, and the separate variables over them', () => {
    expect(redisConnectionOptions('redis://app:p%40ss@cache:6379')).toEqual({ host: 'cache', port: 6379, username: 'app', password: 'p@ss' });
    expect(redisConnectionOptions('redis://:only@cache')).toEqual({ host: 'cache', port: 6379, password: 'only' });
    const env = { REDIS_URL: 'redis://app:old@cache', REDIS_USERNAME: 'stratum', REDIS_PASSWORD: 'new' };
    expect(redisConnectionOptions(redisTargetOf(env))).toEqual({ host: 'cache', port: 6379, username: 'stratum', password: 'new' });
  });

  it('turns rediss:// into TLS checked against the host name, with the CA file when given', () => {
    expect(redisConnectionOptions('rediss://cache.internal:6380')).toEqual({ host: 'cache.internal', port: 6380, tls: { servername: 'cache.internal' } });
    const read = (path: string) => Buffer.from(`pem of ${path}`);
    const o = redisConnectionOptions({ url: 'rediss://cache.internal:6380', password: 'pw', tlsCaFile: '/etc/ca.pem' }, read);
    expect(o).toEqual({ host: 'cache.internal', port: 6380, password: 'pw', tls: { servername: 'cache.internal', ca: Buffer.from('pem of /etc/ca.pem') } });
  });

  it('refuses a CA file without rediss:// (it would connect in clear) and a non-numeric db', () => {
    expect(() => redisConnectionOptions({ url: 'redis://cache', tlsCaFile: '/etc/ca.pem' })).toThrow(/REDIS_TLS_CA_FILE/);
    expect(() => redisConnectionOptions('redis://cache/zero')).toThrow(/database number/);
  });
});
