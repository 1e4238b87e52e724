// The JSON VM config of `hv run --config vm.json` (runtime/config/vm-config.ts).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseVmConfig, readVmConfig } from '../../runtime/config/vm-config.ts';
import { InputError } from '../../runtime/errors.ts';

const BASE = '/srv/vms';

/** A config of one partition: `kernel` plus `fields`, and `host` at the top level. */
function one(fields: object, host: object = {}): string {
  return JSON.stringify({ ...host, partitions: [{ kernel: 'k.elf', ...fields }] });
}

/** The ConfigError that parsing `text` throws. */
function error(text: string): ConfigError {
  try {
    parseVmConfig(text, BASE);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('parsed without an error');
}

describe('VM config', () => {
  it('fills in the defaults of a partition that names only its kernel', () => {
    expect(parseVmConfig(one({}), BASE)).toStrictEqual({
      partitions: [
        {
          name: 'p0',
          memory: 128 * 2 ** 20,
          vcpus: 1,
          paging: 'direct',
          boot: 'firmware',
          kernel: '/srv/vms/k.elf',
          disks: [],
          sched: { weight: 256, cap: 0, reservation: 0 },
        },
      ],
    });
  });

  it('reads every key of a complete config', () => {
    const text = JSON.stringify({
      pcpus: 2,
      partitions: [
        {
          name: 'web', memory: '64M', vcpus: 2, paging: 'nested', boot: 'enlightened',
          kernel: 'guests/bin/enlightened/hello.elf', append: 'console=hvc0', initrd: 'x.img',
          disks: [{ path: 'disk.vhd', format: 'vpc', readonly: true }, { path: '/abs/raw.img' }],
          sched: { weight: 512, cap: 50, reservation: 10 },
        },
        { name: 'fw', bios: 'fw.bin', kernel: 'u-boot.bin', sched: { cap: 25 } },
      ],
    });
    expect(parseVmConfig(text, BASE)).toStrictEqual({
      pcpus: 2,
      partitions: [
        {
          name: 'web', memory: 64 * 2 ** 20, vcpus: 2, paging: 'nested', boot: 'enlightened',
          kernel: '/srv/vms/guests/bin/enlightened/hello.elf', append: 'console=hvc0', initrd: '/srv/vms/x.img',
          disks: [{ path: '/srv/vms/disk.vhd', format: 'vpc', readonly: true }, { path: '/abs/raw.img', readonly: false }],
          sched: { weight: 512, cap: 50, reservation: 10 },
        },
        {
          name: 'fw', memory: 128 * 2 ** 20, vcpus: 1, paging: 'direct', boot: 'firmware', bios: '/srv/vms/fw.bin',
          kernel: '/srv/vms/u-boot.bin', disks: [], sched: { weight: 256, cap: 25, reservation: 0 },
        },
      ],
    });
  });

  it.each([
    ['a size string', '1G', 2 ** 30],
    ['a bare number string, in MiB', '256', 256 * 2 ** 20],
    ['a fractional size', '1.5M', 1.5 * 2 ** 20],
    ['a number of bytes', 65536, 65536],
  ])('reads memory given as %s', (_, memory, bytes) => {
    expect(parseVmConfig(one({ memory }), BASE).partitions[0]!.memory).toBe(bytes);
  });

  it('resolves relative paths against the config directory and keeps absolute ones', () => {
    const p = parseVmConfig(one({ kernel: '../k/vmlinux', bios: '/fw/fw_jump.bin', initrd: './initrd.img', disks: [{ path: 'd.img' }] }), BASE)
      .partitions[0]!;
    expect(p.kernel).toBe('/srv/k/vmlinux');
    expect(p.bios).toBe('/fw/fw_jump.bin');
    expect(p.initrd).toBe('/srv/vms/initrd.img');
    expect(p.disks[0]!.path).toBe('/srv/vms/d.img');
  });

  it('treats bios "none" as no firmware, also when enlightened', () => {
    expect(parseVmConfig(one({ bios: 'none' }), BASE).partitions[0]).not.toHaveProperty('bios');
    expect(parseVmConfig(one({ bios: 'none', boot: 'enlightened' }), BASE).partitions[0]).not.toHaveProperty('bios');
  });

  it('leaves a disk format out when absent (probe the image)', () => {
    expect(parseVmConfig(one({ disks: [{ path: 'd' }] }), BASE).partitions[0]!.disks[0]).not.toHaveProperty('format');
  });

  it('accepts reservation up to cap, and any reservation when uncapped', () => {
    expect(parseVmConfig(one({ sched: { cap: 50, reservation: 50 } }), BASE).partitions[0]!.sched.reservation).toBe(50);
    expect(parseVmConfig(one({ sched: { reservation: 6400 } }), BASE).partitions[0]!.sched.reservation).toBe(6400);
  });

  it('names partitions p<index> by default', () => {
    const text = JSON.stringify({ partitions: [{ kernel: 'a' }, { name: 'x', kernel: 'b' }, { kernel: 'c' }] });
    expect(parseVmConfig(text, BASE).partitions.map((p) => p.name)).toEqual(['p0', 'x', 'p2']);
  });

  it.each([
    ['a top level that is not an object', '[]', 'config: must be an object, got an array of 0'],
    ['missing partitions', '{}', 'partitions: missing (required)'],
    ['no partitions', '{"partitions":[]}', 'partitions: must be an array of 1..1024 partitions, got an array of 0'],
    ['too many partitions', JSON.stringify({ partitions: Array(1025).fill({ kernel: 'k' }) }), 'partitions: must be an array of 1..1024'],
    ['more vCPUs than the host holds', JSON.stringify({ partitions: Array.from({ length: 17 }, (_, i) => ({ name: `p${i}`, kernel: 'k', vcpus: 64 })) }), 'partitions: have 1088 vCPUs together, more than the 1024 a host holds'],
    ['a partition that is not an object', '{"partitions":["k.elf"]}', 'partitions[0]: must be an object, got "k.elf"'],
    ['pcpus 0', one({}, { pcpus: 0 }), 'pcpus: must be an integer 1..64, got 0'],
    ['pcpus 65', one({}, { pcpus: 65 }), 'pcpus: must be an integer 1..64, got 65'],
    ['a missing kernel', '{"partitions":[{"name":"a"}]}', 'partitions[0].kernel: missing (required)'],
    ['an empty kernel path', one({ kernel: '' }), 'partitions[0].kernel: must be a non-empty string (a file path), got ""'],
    ['a kernel that is not a string', one({ kernel: 7 }), 'partitions[0].kernel: must be a non-empty string'],
    ['memory not a multiple of 4 KiB', one({ memory: 1000 }), 'partitions[0].memory: must be a positive multiple of 4 KiB, got 1000'],
    ['zero memory', one({ memory: '0' }), 'partitions[0].memory: must be a positive multiple of 4 KiB, got 0'],
    ['negative memory', one({ memory: -4096 }), 'partitions[0].memory: must be a positive multiple of 4 KiB'],
    ['a memory size that does not parse', one({ memory: '64Q' }), "partitions[0].memory: invalid size '64Q'"],
    ['memory of another type', one({ memory: true }), 'partitions[0].memory: must be a number of bytes or a size such as "128M", got true'],
    ['vcpus 0', one({ vcpus: 0 }), 'partitions[0].vcpus: must be an integer 1..64, got 0'],
    ['vcpus 65', one({ vcpus: 65 }), 'partitions[0].vcpus: must be an integer 1..64, got 65'],
    ['fractional vcpus', one({ vcpus: 1.5 }), 'partitions[0].vcpus: must be an integer 1..64, got 1.5'],
    ['vcpus as a string', one({ vcpus: '2' }), 'partitions[0].vcpus: must be an integer 1..64, got "2"'],
    ['an unknown paging mode', one({ paging: 'ept' }), 'partitions[0].paging: must be one of direct, nested, shadow, got "ept"'],
    ['an unknown boot', one({ boot: 'uefi' }), 'partitions[0].boot: must be one of firmware, enlightened, got "uefi"'],
    ['a bios with enlightened boot', one({ boot: 'enlightened', bios: 'fw.bin' }), 'partitions[0].bios: only allowed with boot "firmware"'],
    ['an append that is not a string', one({ append: ['a'] }), 'partitions[0].append: must be a string, got an array of 1'],
    ['a null initrd', one({ initrd: null }), 'partitions[0].initrd: must be a non-empty string (a file path), got null'],
    ['a bad name', one({ name: 'my vm' }), 'partitions[0].name: must be 1..32 of A-Z a-z 0-9 _ . - #, got "my vm"'],
    ['an empty name', one({ name: '' }), 'partitions[0].name: must be 1..32'],
    ['a name over 32 characters', one({ name: 'x'.repeat(33) }), 'partitions[0].name: must be 1..32'],
    ['disks that are not an array', one({ disks: { path: 'd' } }), 'partitions[0].disks: must be an array of at most 8 disks, got an object'],
    ['more than 8 disks', one({ disks: Array(9).fill({ path: 'd' }) }), 'partitions[0].disks: at most 8 virtio disks (one per virtio-mmio slot), got 9'],
    ['a disk without a path', one({ disks: [{ path: 'a' }, { format: 'raw' }] }), 'partitions[0].disks[1].path: missing (required)'],
    ['an unknown disk format', one({ disks: [{ path: 'd', format: 'qcow2' }] }), 'partitions[0].disks[0].format: must be one of raw, vpc, got "qcow2"'],
    ['a readonly that is not a boolean', one({ disks: [{ path: 'd', readonly: 'on' }] }), 'partitions[0].disks[0].readonly: must be true or false, got "on"'],
    ['an unknown disk interface', one({ disks: [{ path: 'd', if: 'scsi' }] }), 'partitions[0].disks[0].if: must be one of virtio, vmbus, got "scsi"'],
    ['a VMBus disk in a partition that boots firmware', one({ disks: [{ path: 'd', if: 'vmbus' }] }), 'partitions[0].disks[0].if: a disk on VMBus needs boot "enlightened"'],
    ['sched that is not an object', one({ sched: 256 }), 'partitions[0].sched: must be an object, got 256'],
    ['weight 0', one({ sched: { weight: 0 } }), 'partitions[0].sched.weight: must be an integer 1..65535, got 0'],
    ['weight 65536', one({ sched: { weight: 65536 } }), 'partitions[0].sched.weight: must be an integer 1..65535, got 65536'],
    ['a negative cap', one({ sched: { cap: -1 } }), 'partitions[0].sched.cap: must be an integer 0..6400, got -1'],
    ['a cap over 6400', one({ sched: { cap: 6401 } }), 'partitions[0].sched.cap: must be an integer 0..6400, got 6401'],
    ['a reservation over 6400', one({ sched: { reservation: 6401 } }), 'partitions[0].sched.reservation: must be an integer 0..6400, got 6401'],
  ])('rejects %s, naming the JSON path', (_, text, message) => {
    expect(error(text).message).toContain(message);
  });

  it('offers integration components with vmbus.ic, keys pushed from vmbus.kvp, on an enlightened partition', () => {
    const vmbus = { ic: ['heartbeat', 'shutdown', 'timesync', 'kvp'], kvp: { HostName: 'root' } };
    expect(parseVmConfig(one({ boot: 'enlightened', vmbus }), BASE).partitions[0]!.vmbus).toStrictEqual(vmbus);
    expect(error(one({ boot: 'enlightened', vmbus: { ic: ['kvp'], vss: true } })).message).toContain('partitions[0].vmbus.vss: unknown key (expected one of: ic, kvp)');
    expect(error(one({ vmbus: { ic: ['kvp'] } })).message).toContain('partitions[0].vmbus: integration components need boot "enlightened"');
    expect(error(one({ boot: 'enlightened', vmbus: { ic: ['kvp'], kvp: { '': 'x' } } })).message).toContain('partitions[0].vmbus.kvp: a key is 1-255 characters');
  });

  it('rejects a reservation above the cap', () => {
    expect(error(one({ sched: { weight: 100, cap: 50, reservation: 60 } })).message).toBe(
      'partitions[0].sched.reservation: must be at most cap (50), got 60',
    );
  });

  it('names the failing partition by its index', () => {
    const text = JSON.stringify({ partitions: [{ kernel: 'a' }, { kernel: 'b', sched: { weight: 0 } }] });
    expect(error(text).message).toBe('partitions[1].sched.weight: must be an integer 1..65535, got 0');
  });

  it.each([
    ['at the top level', one({}, { pcpu: 2 }), 'pcpu: unknown key (expected one of: pcpus, hostMemory, partitions)'],
    ['in a partition', one({ memroy: '64M' }), 'partitions[0].memroy: unknown key'],
    ['in a disk', one({ disks: [{ path: 'd', cache: 'none' }] }), 'partitions[0].disks[0].cache: unknown key (expected one of: path, format, readonly, if)'],
    ['in sched', one({ sched: { wieght: 5 } }), 'partitions[0].sched.wieght: unknown key (expected one of: weight, cap, reservation)'],
  ])('rejects an unknown key %s', (_, text, message) => {
    expect(error(text).message).toContain(message);
  });

  it('rejects duplicate names, also against a default name', () => {
    const dup = JSON.stringify({ partitions: [{ name: 'a', kernel: 'k' }, { name: 'b', kernel: 'k' }, { name: 'a', kernel: 'k' }] });
    expect(error(dup).message).toBe('partitions[2].name: duplicate name "a" (also partitions[0])');
    const clash = JSON.stringify({ partitions: [{ kernel: 'k' }, { name: 'p0', kernel: 'k' }] });
    expect(error(clash).message).toBe('partitions[1].name: duplicate name "p0" (also partitions[0])');
  });

  it('rejects malformed JSON with a ConfigError carrying the parser message', () => {
    const e = error('{"partitions": [');
    expect(e).toBeInstanceOf(InputError);
    expect(e.name).toBe('ConfigError');
    expect(e.message).toMatch(/^invalid JSON: /);
    expect(e.cause).toBeInstanceOf(SyntaxError);
    expect(e.message).toContain((e.cause as Error).message);
  });
});

describe('readVmConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hv-vm-config-'));

  it('reads a file and resolves paths against its directory', () => {
    const path = join(dir, 'vm.json');
    writeFileSync(path, one({ kernel: 'guest.elf' }));
    expect(readVmConfig(path).partitions[0]!.kernel).toBe(join(dir, 'guest.elf'));
  });

  it('rejects a missing file with a ConfigError naming the path', () => {
    const path = join(dir, 'missing.json');
    expect(() => readVmConfig(path)).toThrow(ConfigError);
    expect(() => readVmConfig(path)).toThrow(`${path}: cannot read the VM config`);
  });

  it('prefixes rule violations with the file path', () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, one({ vcpus: 0 }));
    expect(() => readVmConfig(path)).toThrow(`${path}: partitions[0].vcpus: must be an integer 1..64, got 0`);
  });
});
