// The key-value pair exchange IC (Linux hv_kvp.c and its daemon's pools):
// strings both ways, UTF-16LE on the wire. struct hv_kvp_msg:
//
//   +0 kvp_hdr {operation u8, pool u8, pad u16}
//   +4 GET/SET: hv_kvp_exchg_msg_value {value_type u32, key_size u32,
//      value_size u32, key[512], value[2048]}  (sizes in bytes, NUL included)
//   +4 ENUMERATE: index u32, then the same hv_kvp_exchg_msg_value at +8
//   +4 DELETE: key_size u32, key[512]
//
// The host pushes keys into the guest's external pool (SET, pool 0: what
// Hyper-V's "KVP data exchange" gives a guest to read) and reads the
// guest's own pools by enumerating them (pool 2, the guest's intrinsic
// items, and pool 1, the keys the guest set), index 0 on, until the guest
// answers HV_S_CONT (no more items).
import { HV_S_CONT, HV_S_OK, IcMsgType, IntegrationComponent, fromUtf16, utf16 } from './ic.ts';

/** HV_KVP_GUID */
export const KVP_CLASS_ID = 'a9a0f4e7-5a45-4d96-b827-8a841e8c03e6';
/** WIN8_SRV_VERSION 4.0, WIN7 3.0, WS2008 1.0 (Linux's kvp_versions[]). */
export const KVP_VERSIONS = [0x4_0000, 0x3_0000, 0x1_0000] as const;
export const KvpOp = { GET: 0, SET: 1, DELETE: 2, ENUMERATE: 3 } as const;
export const KvpPool = { EXTERNAL: 0, GUEST: 1, AUTO: 2, AUTO_EXTERNAL: 3, AUTO_INTERNAL: 4 } as const;
export const KEY_MAX = 512;
export const VALUE_MAX = 2048;
const REG_SZ = 1;
/** The hv_kvp_exchg_msg_value: its fields from its start. */
const Value = { type: 0, keySize: 4, valueSize: 8, key: 12, value: 12 + KEY_MAX, size: 12 + KEY_MAX + VALUE_MAX } as const;
const BODY = 8 + Value.size;
/** Pools the host reads, in the order it reads them. */
const READ_POOLS = [KvpPool.AUTO, KvpPool.GUEST] as const;
/** Items an enumeration takes at most (bounds a guest that never says HV_S_CONT). */
const MAX_ITEMS = 256;

export interface KvpOptions {
  /** Keys pushed into the guest's external pool as soon as the IC is ready. */
  push?: Record<string, string>;
}

export class KvpIc extends IntegrationComponent {
  readonly classId = KVP_CLASS_ID;
  readonly service = 'kvp';
  readonly stateVersion = 1;
  protected readonly serviceVersions = KVP_VERSIONS;
  protected readonly maxBody = BODY;
  /** The guest's pools as last read (pool number -> key -> value). */
  readonly pools = new Map<number, Map<string, string>>();
  /** What the host pushed into the guest's external pool, and the guest accepted. */
  readonly pushed = new Map<string, string>();

  constructor(
    readonly instanceId: string,
    private readonly options: KvpOptions = {},
  ) {
    super();
  }

  protected override onReady(): void {
    for (const [k, v] of Object.entries(this.options.push ?? {})) this.set(k, v, () => {});
    this.read(() => {});
  }

  /** Pushes `key` = `value` into the guest's external pool; `done` gets null or why not. */
  set(key: string, value: string, done: (error: string | null) => void): void {
    if (key.length === 0 || 2 * (key.length + 1) > KEY_MAX || 2 * (value.length + 1) > VALUE_MAX) {
      done(`a KVP key is 1-${KEY_MAX / 2 - 1} characters and a value at most ${VALUE_MAX / 2 - 1}`);
      return;
    }
    const body = new Uint8Array(BODY);
    const dv = new DataView(body.buffer);
    body[0] = KvpOp.SET;
    body[1] = KvpPool.EXTERNAL;
    const k = utf16(key, KEY_MAX);
    const v = utf16(value, VALUE_MAX);
    dv.setUint32(4 + Value.type, REG_SZ, true);
    dv.setUint32(4 + Value.keySize, k.length, true);
    dv.setUint32(4 + Value.valueSize, v.length, true);
    body.set(k.bytes, 4 + Value.key);
    body.set(v.bytes, 4 + Value.value);
    this.request(IcMsgType.KVPEXCHANGE, body, (o) => {
      if (!o.ok) return done(o.error);
      if (o.status !== HV_S_OK) return done(`the guest refused the key (status 0x${o.status.toString(16)})`);
      this.pushed.set(key, value);
      done(null);
    });
  }

  /** Reads the guest's pools afresh (enumerates them); `done` gets null or why not. */
  read(done: (error: string | null) => void): void {
    const fresh = new Map<number, Map<string, string>>();
    const step = (p: number, index: number) => {
      if (p >= READ_POOLS.length) {
        this.pools.clear();
        for (const [k, v] of fresh) this.pools.set(k, v);
        return done(null);
      }
      const pool = READ_POOLS[p]!;
      if (!fresh.has(pool)) fresh.set(pool, new Map());
      if (index >= MAX_ITEMS) return step(p + 1, 0);
      const body = new Uint8Array(BODY);
      body[0] = KvpOp.ENUMERATE;
      body[1] = pool;
      new DataView(body.buffer).setUint32(4, index, true);
      this.request(IcMsgType.KVPEXCHANGE, body, (o) => {
        if (!o.ok) return done(o.error);
        if (o.status !== HV_S_OK || o.body.length < BODY) return step(p + 1, 0); // HV_S_CONT: the pool's end
        const at = 8;
        const dv = new DataView(o.body.buffer, o.body.byteOffset, o.body.length);
        const keySize = Math.min(dv.getUint32(at + Value.keySize, true), KEY_MAX);
        const valueSize = Math.min(dv.getUint32(at + Value.valueSize, true), VALUE_MAX);
        const key = fromUtf16(o.body.subarray(at + Value.key), keySize);
        fresh.get(pool)!.set(key, fromUtf16(o.body.subarray(at + Value.value), valueSize));
        step(p, index + 1);
      });
    };
    step(0, 0);
  }

  /** The guest's pools as plain objects: { auto: {...}, guest: {...} }. */
  get guestPools(): { auto: Record<string, string>; guest: Record<string, string> } {
    const obj = (p: number) => Object.fromEntries(this.pools.get(p) ?? []);
    return { auto: obj(KvpPool.AUTO), guest: obj(KvpPool.GUEST) };
  }

  save(): object {
    return { ic: this.saveIc(), pools: [...this.pools].map(([p, m]) => [p, [...m]]), pushed: [...this.pushed] };
  }

  restore(state: object): void {
    const s = state as Record<string, unknown>;
    this.checkIc((s.ic ?? {}) as Record<string, unknown>)();
    this.pools.clear();
    this.pushed.clear();
    const pairs = (x: unknown) => (Array.isArray(x) ? x.filter((e) => Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string') : []) as [string, string][];
    if (Array.isArray(s.pools)) for (const e of s.pools) if (Array.isArray(e) && Number.isInteger(e[0])) this.pools.set(e[0], new Map(pairs(e[1])));
    for (const [k, v] of pairs(s.pushed)) this.pushed.set(k, v);
  }
}
