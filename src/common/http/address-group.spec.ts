import { addressGroup } from './address-group';

describe('addressGroup', () => {
  it('keeps an IPv4 address as it is', () => {
    expect(addressGroup('203.0.113.7')).toBe('203.0.113.7');
    expect(addressGroup('127.0.0.1')).toBe('127.0.0.1');
  });

  it('groups every IPv6 address of one /64 together, however it is written', () => {
    const group = '2001:db8:85a3:42::/64';
    for (const address of [
      '2001:db8:85a3:42::1',
      '2001:0db8:85a3:0042:0000:0000:0000:0002',
      '2001:DB8:85A3:42:ffff:ffff:ffff:ffff',
      '2001:db8:85a3:42:1234:5678:9abc:def0',
      '2001:db8:85a3:42::1%eth0',
      '2001:db8:85a3:42::192.0.2.1',
    ]) {
      expect(addressGroup(address)).toBe(group);
    }
  });

  it('tells different /64s apart', () => {
    expect(addressGroup('2001:db8:85a3:43::1')).toBe('2001:db8:85a3:43::/64');
    expect(addressGroup('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressGroup('::1')).toBe('0:0:0:0::/64');
    expect(addressGroup('fe80::1')).not.toBe(addressGroup('fe81::1'));
  });

  it('counts an IPv4-mapped IPv6 address as its IPv4 address', () => {
    expect(addressGroup('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressGroup('::FFFF:cb00:7107')).toBe('203.0.113.7');
    expect(addressGroup('0:0:0:0:0:ffff:7f00:1')).toBe('127.0.0.1');
  });

  it('counts anything else as given', () => {
    expect(addressGroup('undefined')).toBe('undefined');
    expect(addressGroup('')).toBe('');
  });
});
