// Address forms, as the outbound rules judge them.
import { describe, expect, it } from 'vitest';
import { normalize } from '../../src/outbound/addresses';

describe('address forms', () => {
  it('judges an IPv4-mapped address as the IPv4 address it carries, and IPv6 in its canonical form', () => {
    expect(['::ffff:127.0.0.1', '[::ffff:7f00:1]', '0:0:0:0:0:ffff:7f00:1', '::FFFF:10.1.2.3'].map(normalize)).toEqual([
      '127.0.0.1',
      '127.0.0.1',
      '127.0.0.1',
      '10.1.2.3',
    ]);
    expect(['FD00:EC2:0::254', '0:0:0:0:0:0:0:1', 'fe80::1%eth0'].map(normalize)).toEqual([
      'fd00:ec2::254',
      '::1',
      'fe80::1',
    ]);
  });
});
