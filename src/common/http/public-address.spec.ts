import { addressRefusal } from './public-address';

describe('addressRefusal', () => {
  it('lets public addresses through, IPv4 and IPv6', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '93.184.215.14', '172.15.255.255', '172.32.0.1', '100.63.255.255', '100.128.0.1']) {
      expect([address, addressRefusal(address)]).toEqual([address, null]);
    }
    for (const address of [
      '2606:4700:4700::1111',
      '2a00:1450:4001:830::200e',
      '2001:4860:4860::8888',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
    ]) {
      expect([address, addressRefusal(address)]).toEqual([address, null]);
    }
  });

  describe.each<[string, [string, string][]]>([
    [
      'IPv4 addresses',
      [
        ['0.0.0.0', 'unspecified'],
        ['0.1.2.3', 'unspecified'],
        ['127.0.0.1', 'loopback'],
        ['127.255.255.254', 'loopback'],
        ['10.0.0.1', 'private'],
        ['10.255.255.255', 'private'],
        ['172.16.0.1', 'private'],
        ['172.31.255.255', 'private'],
        ['192.168.1.1', 'private'],
        ['100.64.0.1', 'shared'],
        ['100.127.255.255', 'shared'],
        ['169.254.0.1', 'link_local'],
        ['169.254.169.254', 'metadata'],
        ['224.0.0.1', 'multicast'],
        ['239.255.255.250', 'multicast'],
        ['255.255.255.255', 'reserved'],
        ['240.0.0.1', 'reserved'],
        ['192.0.2.10', 'reserved'],
        ['198.18.0.1', 'reserved'],
      ],
    ],
    [
      'IPv6 addresses',
      [
        ['::', 'unspecified'],
        ['0:0:0:0:0:0:0:0', 'unspecified'],
        ['::1', 'loopback'],
        ['0:0:0:0:0:0:0:1', 'loopback'],
        ['fc00::1', 'private'],
        ['fd12:3456:789a::1', 'private'],
        ['fd00:ec2::254', 'metadata'],
        ['fe80::1', 'link_local'],
        ['fe80::1%eth0', 'link_local'],
        ['febf:ffff::1', 'link_local'],
        ['fec0::1', 'private'],
        ['ff02::1', 'multicast'],
        ['ff0e::1', 'multicast'],
        ['2001:db8::1', 'reserved'],
        ['2001::1', 'reserved'],
        ['100::1', 'reserved'],
        ['4000::1', 'reserved'],
      ],
    ],
    [
      'IPv6 addresses by the IPv4 address they carry',
      [
        ['::ffff:127.0.0.1', 'loopback'],
        ['::ffff:7f00:1', 'loopback'],
        ['0:0:0:0:0:ffff:7f00:0001', 'loopback'],
        ['::FFFF:10.0.0.1', 'private'],
        ['::ffff:a9fe:a9fe', 'metadata'],
        ['::ffff:169.254.169.254', 'metadata'],
        ['::ffff:0:127.0.0.1', 'loopback'],
        ['::127.0.0.1', 'loopback'],
        ['::192.168.0.1', 'private'],
        ['64:ff9b::7f00:1', 'loopback'],
        ['64:ff9b::a00:1', 'private'],
        ['2002:7f00:1::1', 'loopback'],
        ['2002:c0a8:101::1', 'private'],
        ['::ffff:0.0.0.0', 'unspecified'],
      ],
    ],
  ])('refuses %s', (_group, cases) => {
    it.each(cases)('%s (%s)', (address, refusal) => {
      expect(addressRefusal(address)).toBe(refusal);
    });
  });

  it('refuses what is not an address at all', () => {
    expect(addressRefusal('localhost')).toBe('not_an_address');
    expect(addressRefusal('')).toBe('not_an_address');
    expect(addressRefusal('1.2.3')).toBe('not_an_address');
    expect(addressRefusal('[::1]')).toBe('not_an_address');
  });
});
