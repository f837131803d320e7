import { BlockList, isIP } from 'node:net';

/**
 * Where a webhook may connect: the address classes a target's resolved addresses fall in.
 * Everything but `public` is refused at delivery time unless an allowed CIDR covers it, so
 * a receiver cannot point Stratum at its own network, the loopback or a cloud metadata service.
 */
export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'metadata' | 'unspecified' | 'reserved' | 'multicast';

const V4: [string, number, AddressClass][] = [
  ['169.254.169.254', 32, 'metadata'], // AWS, GCP, Azure, OpenStack
  ['100.100.100.200', 32, 'metadata'], // Alibaba Cloud
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'private'], // carrier-grade NAT
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'],
  ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'], // and 255.255.255.255
];
const V6: [string, number, AddressClass][] = [
  ['fd00:ec2::254', 128, 'metadata'], // AWS over IPv6
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'private'], // deprecated site-local
  ['fc00::', 7, 'private'], // unique local, fd00::/8 included
  ['ff00::', 8, 'multicast'],
  ['100::', 64, 'reserved'], // discard
  ['2001:db8::', 32, 'reserved'], // documentation
  ['2001::', 32, 'reserved'], // Teredo (tunnels to an embedded IPv4)
  ['2002::', 16, 'reserved'], // 6to4 (embeds an IPv4)
];

const lists: { list: BlockList; type: 'ipv4' | 'ipv6'; cls: AddressClass }[] = [
  ...V4.map(([a, p, cls]) => ({ a, p, cls, type: 'ipv4' as const })),
  ...V6.map(([a, p, cls]) => ({ a, p, cls, type: 'ipv6' as const })),
].map(({ a, p, cls, type }) => {
  const list = new BlockList();
  list.addSubnet(a, p, type);
  return { list, type, cls };
});

/** The eight 16-bit groups of an IPv6 address (with a dotted IPv4 tail or `::`). */
function groupsOf(v6: string): number[] {
  let s = v6.toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    s = s.slice(0, dotted.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16));
}

/**
 * The IPv4 address an IPv6 address carries and routes to: IPv4-mapped (::ffff:a.b.c.d),
 * IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d); null for any other IPv6 address.
 */
export function embeddedIPv4(v6: string): string | null {
  const g = groupsOf(v6);
  if (g.length !== 8 || g.some((x) => Number.isNaN(x))) return null;
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  const mapped = zeros(5) && g[5] === 0xffff;
  const compatible = zeros(6) && (g[6]! !== 0 || g[7]! > 1);
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  if (!mapped && !compatible && !nat64) return null;
  return [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff].join('.');
}

/** The class of an IP address (an IPv6 address carrying an IPv4 one is classed by that IPv4). */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address);
  if (family === 0) throw new Error(`not an IP address: ${address}`);
  if (family === 6) {
    const v4 = embeddedIPv4(address);
    if (v4 !== null) return classifyAddress(v4);
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const l of lists) if (l.type === type && l.list.check(address, type)) return l.cls;
  return 'public';
}

/** An allow list of CIDRs ("127.0.0.0/8", "::1/128", or a bare address). */
export function allowList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/') as [string, string | undefined];
    const family = isIP(addr);
    if (family === 0) throw new Error(`"${c}" is not a CIDR`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) throw new Error(`"${c}" is not a CIDR`);
    list.addSubnet(addr, prefix, type);
  }
  return list;
}

export interface AddressDecision {
  address: string;
  cls: AddressClass;
  allowed: boolean;
}

/** Whether a webhook may connect to `address`: public ones always, others only inside the allow list. */
export function decideAddress(address: string, allowed: BlockList): AddressDecision {
  const cls = classifyAddress(address);
  if (cls === 'public') return { address, cls, allowed: true };
  const family = isIP(address);
  const v4 = family === 6 ? embeddedIPv4(address) : null;
  const ok = v4 !== null ? allowed.check(v4, 'ipv4') : allowed.check(address, family === 4 ? 'ipv4' : 'ipv6');
  return { address, cls, allowed: ok };
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

/**
 * Resolves a target's host once and decides: every address it resolves to must be allowed
 * (a name with one private address among public ones is refused), and the caller connects
 * to the address returned here, never resolving again (so a rebinding name cannot switch).
 */
export async function resolveTarget(hostname: string, resolve: Resolver, allowed: BlockList): Promise<{ ok: true; address: ResolvedAddress } | { ok: false; reason: string }> {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  const literal = isIP(host);
  let addresses: ResolvedAddress[];
  if (literal !== 0) addresses = [{ address: host, family: literal as 4 | 6 }];
  else {
    try {
      addresses = await resolve(host);
    } catch (e) {
      return { ok: false, reason: `could not resolve ${host}: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
  if (addresses.length === 0) return { ok: false, reason: `${host} resolves to no address` };
  for (const a of addresses) {
    const d = decideAddress(a.address, allowed);
    if (!d.allowed) return { ok: false, reason: `refused: ${host} resolves to ${a.address} (${d.cls})` };
  }
  return { ok: true, address: addresses[0]! };
}
