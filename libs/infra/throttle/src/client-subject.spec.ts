import { describe, expect, it } from '@jest/globals';
import { clientSubject } from './client-subject.js';

describe('clientSubject (item 5: IPv6 counted per /64)', () => {
  it('counts every address of one /64 as one client', () => {
    const a = clientSubject('2001:db8:1:2:aaaa:bbbb:cccc:dddd');
    expect(a).toBe('2001:db8:1:2::/64');
    expect(clientSubject('2001:db8:1:2::1')).toBe(a);
    expect(clientSubject('2001:0DB8:0001:0002:ffff:0:0:1')).toBe(a);
    expect(clientSubject('2001:db8:1:2::5%eth0')).toBe(a);
  });

  it('keeps different /64s and IPv4 addresses apart', () => {
    expect(clientSubject('2001:db8:1:3::1')).not.toBe(clientSubject('2001:db8:1:2::1'));
    expect(clientSubject('::1')).toBe('0:0:0:0::/64');
    expect(clientSubject('203.0.113.7')).toBe('203.0.113.7');
    expect(clientSubject('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientSubject('::ffff:cb00:7107')).toBe('203.0.113.7');
    expect(clientSubject('not an address')).toBe('not an address');
  });
});
