// The connection URLs built-in rotators accept: what they take, and what they refuse.
import { describe, expect, it } from 'vitest';
import { OutboundRefused } from '../../src/outbound/address-rules';
import { parsePostgresUrl, parseRedisUrl } from '../../src/outbound/connection-urls';

describe('connection URLs', () => {
  it('take a host, a user, a database and the TLS mode, keeping the server name for SNI', () => {
    expect(parsePostgresUrl('postgres://app:p%40ss@db.example:6543/sales?sslmode=verify-full')).toMatchObject({
      host: 'db.example',
      port: 6543,
      user: 'app',
      password: 'p@ss',
      database: 'sales',
      tls: { rejectUnauthorized: true, servername: 'db.example' },
    });
    expect(parsePostgresUrl('postgresql://app@[::1]/')).toMatchObject({
      host: '::1',
      port: 5432,
      database: 'app',
      tls: false,
    });
    expect(parseRedisUrl('rediss://u:p@cache.example/2')).toMatchObject({
      host: 'cache.example',
      port: 6379,
      username: 'u',
      password: 'p',
      db: 2,
      tls: { servername: 'cache.example' },
    });
  });

  it('refuse sockets, other hosts and files named in parameters, and any Redis parameter', () => {
    for (const url of [
      'postgres://u@h/db?host=/tmp',
      'postgres://u@h/db?hostaddr=10.0.0.1',
      'postgres://u@h/db?sslrootcert=/etc/passwd',
      'postgres://u@h/db?sslkey=/k',
      'postgres://u@h/db?sslcert=/c',
      'postgres://u@h/db?passfile=/p',
      'postgres://u@h/db?service=s',
      'postgres://u@%2Ftmp/db',
      'postgres:///db',
      'postgres://h/db',
      'postgres://u@h/db?sslmode=sometimes',
      'mysql://u@h/db',
      'not a url',
    ])
      expect(() => parsePostgresUrl(url), url).toThrow(OutboundRefused);
    for (const url of [
      'redis:///tmp/redis.sock',
      'redis://h?path=/tmp/s',
      'rediss://h?ca=/k',
      'redis://h/not-a-db',
      'unix:///tmp/s',
      'redis://u:p@%2Ftmp',
    ]) {
      expect(() => parseRedisUrl(url), url).toThrow(OutboundRefused);
    }
  });
});
