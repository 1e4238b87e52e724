import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildVirtTree, DtbConfigError, parseIsa, writeVirtDtb } from '../../../drivers/board/dtb.ts';
import { type FdtNode, parseFdt } from '../../../drivers/board/fdt.ts';
import { dtbCommand, parseDtbArgs } from '../../../runtime/cli/dtb.ts';
import { UsageError } from '../../../runtime/cli/errors.ts';

const MiB = 2 ** 20;
const tmp = mkdtempSync(join(tmpdir(), 'hv-dtb-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function has(cmd: string, ...args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}
const HAVE_DTC = has('dtc', '--version');
const HAVE_QEMU = has('qemu-system-riscv64', '--version');

function tree(harts = 2, extra = {}) {
  return parseFdt(writeVirtDtb({ harts, ramSize: 256 * MiB, ...extra })).root;
}

describe('virt device tree', () => {
  it('describes RAM at 0x8000_0000 with 64-bit address and size cells', () => {
    const root = tree(1, { ramSize: 5 * 2 ** 30 });
    expect(root.getU32('#address-cells')).toBe(2);
    expect(root.find('/memory@80000000')!.getCells('reg')).toEqual([0, 0x8000_0000, 1, 0x4000_0000]);
    expect(root.find('/memory@80000000')!.getString('device_type')).toBe('memory');
  });

  it('describes each hart with its ISA, MMU and local interrupt controller', () => {
    const root = tree(3);
    expect(root.find('/cpus')!.getU32('timebase-frequency')).toBe(10_000_000);
    for (let h = 0; h < 3; h++) {
      const cpu = root.find(`/cpus/cpu@${h}`)!;
      expect(cpu.getU32('reg')).toBe(h);
      expect(cpu.getString('device_type')).toBe('cpu');
      expect(cpu.getString('status')).toBe('okay');
      expect(cpu.getString('compatible')).toBe('riscv');
      expect(cpu.getString('riscv,isa')).toBe('rv64imafdc_zicsr_zifencei');
      expect(cpu.getString('riscv,isa-base')).toBe('rv64i');
      expect(cpu.getStrings('riscv,isa-extensions')).toEqual(['i', 'm', 'a', 'f', 'd', 'c', 'zicsr', 'zifencei']);
      expect(cpu.getString('mmu-type')).toBe('riscv,sv48');
      const intc = cpu.child('interrupt-controller')!;
      expect(intc.getString('compatible')).toBe('riscv,cpu-intc');
      expect(intc.getU32('#interrupt-cells')).toBe(1);
      expect(intc.value('interrupt-controller')).toBeDefined();
      expect(root.find(`/cpus/cpu-map/cluster0/core${h}`)!.getU32('cpu')).toBe(cpu.phandle);
    }
  });

  it('routes the PLIC to M and S external interrupts and the CLINT to M soft/timer of every hart', () => {
    const root = tree(2);
    const intc = [0, 1].map((h) => root.find(`/cpus/cpu@${h}/interrupt-controller`)!.phandle!);
    const plic = root.find('/soc/plic@c000000')!;
    expect(plic.getStrings('compatible')).toEqual(['sifive,plic-1.0.0', 'riscv,plic0']);
    expect(plic.getU32('riscv,ndev')).toBe(0x5f);
    expect(plic.getCells('reg')).toEqual([0, 0x0c00_0000, 0, 0x60_0000]);
    expect(plic.getCells('interrupts-extended')).toEqual([intc[0], 11, intc[0], 9, intc[1], 11, intc[1], 9]);
    const clint = root.find('/soc/clint@2000000')!;
    expect(clint.getStrings('compatible')).toEqual(['sifive,clint0', 'riscv,clint0']);
    expect(clint.getCells('interrupts-extended')).toEqual([intc[0], 3, intc[0], 7, intc[1], 3, intc[1], 7]);
  });

  it('wires the UART, RTC and the eight virtio slots to PLIC sources 10, 11 and 1..8', () => {
    const root = tree();
    const plic = root.find('/soc/plic@c000000')!.phandle;
    const serial = root.find('/soc/serial@10000000')!;
    expect(serial.getString('compatible')).toBe('ns16550a');
    expect(serial.getU32('clock-frequency')).toBe(0x384000);
    expect([serial.getU32('interrupts'), serial.getU32('interrupt-parent')]).toEqual([10, plic]);
    const rtc = root.find('/soc/rtc@101000')!;
    expect(rtc.getString('compatible')).toBe('google,goldfish-rtc');
    expect([rtc.getU32('interrupts'), rtc.getU32('interrupt-parent')]).toEqual([11, plic]);
    for (let i = 0; i < 8; i++) {
      const v = root.find(`/soc/virtio_mmio@${(0x1000_1000 + i * 0x1000).toString(16)}`)!;
      expect(v.getString('compatible')).toBe('virtio,mmio');
      expect(v.getU32('interrupts')).toBe(1 + i);
      expect(v.getU32('interrupt-parent')).toBe(plic);
    }
  });

  it('describes fewer virtio slots on request', () => {
    const soc = tree(1, { virtioSlots: 2 }).find('/soc')!;
    expect(soc.children.filter((c) => c.name.startsWith('virtio_mmio')).map((c) => c.name)).toEqual([
      'virtio_mmio@10002000',
      'virtio_mmio@10001000',
    ]);
  });

  it('powers off and reboots through the test finisher syscon', () => {
    const root = tree();
    const test = root.find('/soc/test@100000')!;
    expect(test.getStrings('compatible')).toEqual(['sifive,test1', 'sifive,test0', 'syscon']);
    expect(root.find('/poweroff')!.getCells('value')).toEqual([0x5555]);
    expect(root.find('/poweroff')!.getU32('regmap')).toBe(test.phandle);
    expect(root.find('/poweroff')!.getString('compatible')).toBe('syscon-poweroff');
    expect(root.find('/reboot')!.getCells('value')).toEqual([0x7777]);
    expect(root.find('/reboot')!.getString('compatible')).toBe('syscon-reboot');
  });

  it('puts bootargs, the console and the initrd in /chosen', () => {
    const chosen = tree(1, { bootargs: 'console=ttyS0 earlycon', initrd: { start: 0x8400_0000, end: 0x8410_0000 } }).find('/chosen')!;
    expect(chosen.getString('bootargs')).toBe('console=ttyS0 earlycon');
    expect(chosen.getString('stdout-path')).toBe('/soc/serial@10000000');
    expect(chosen.getCells('linux,initrd-start')).toEqual([0, 0x8400_0000]);
    expect(chosen.getCells('linux,initrd-end')).toEqual([0, 0x8410_0000]);
    expect(tree(1).find('/chosen')!.value('bootargs')).toBeUndefined();
  });

  it('numbers phandles as QEMU does: harts from the last, then the PLIC, then the test device', () => {
    const root = tree(2);
    const ph = (p: string) => root.find(p)!.phandle;
    expect([ph('/cpus/cpu@1'), ph('/cpus/cpu@1/interrupt-controller'), ph('/cpus/cpu@0'), ph('/cpus/cpu@0/interrupt-controller')]).toEqual([1, 2, 3, 4]);
    expect([ph('/soc/plic@c000000'), ph('/soc/test@100000')]).toEqual([5, 6]);
  });

  it('is deterministic', () => {
    expect(writeVirtDtb({ harts: 4, ramSize: 128 * MiB })).toEqual(writeVirtDtb({ harts: 4, ramSize: 128 * MiB }));
  });

  it('rejects configurations it cannot describe', () => {
    expect(() => parseIsa('rv64cmafdi')).toThrow(DtbConfigError); // the base (I or G) comes first
    expect(() => buildVirtTree({ harts: 0, ramSize: MiB })).toThrow(DtbConfigError);
    expect(() => buildVirtTree({ harts: 513, ramSize: MiB })).toThrow(DtbConfigError);
    expect(() => buildVirtTree({ harts: 1, ramSize: 0 })).toThrow(DtbConfigError);
    expect(() => buildVirtTree({ harts: 1, ramSize: MiB, virtioSlots: 9 })).toThrow(DtbConfigError);
    expect(() => buildVirtTree({ harts: 1, ramSize: MiB, isa: 'x86_64' })).toThrow(DtbConfigError);
    expect(() => buildVirtTree({ harts: 1, ramSize: MiB, initrd: { start: 10, end: 5 } })).toThrow(DtbConfigError);
  });
});

describe('ISA string split', () => {
  it('lists single-letter extensions in canonical order, then the multi-letter ones', () => {
    expect(parseIsa('rv64imafdc_zicsr_zifencei')).toEqual({ base: 'rv64i', extensions: ['i', 'm', 'a', 'f', 'd', 'c', 'zicsr', 'zifencei'] });
    expect(parseIsa('rv64icmafd').extensions).toEqual(['i', 'm', 'a', 'f', 'd', 'c']);
  });

  it('expands G to IMAFD_Zicsr_Zifencei', () => {
    expect(parseIsa('rv64gc')).toEqual({ base: 'rv64i', extensions: ['i', 'm', 'a', 'f', 'd', 'c', 'zicsr', 'zifencei'] });
    expect(parseIsa('RV32G_Zicsr').base).toBe('rv32i');
  });
});

/** A path -> property-name -> value map of a parsed tree. */
function flatten(root: FdtNode): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [path, node] of root.walk()) {
    out.set(path, new Map(node.props.map((p) => [p.name, Buffer.from(node.value(p.name)!).toString('hex')])));
  }
  return out;
}

describe.skipIf(!HAVE_DTC)(`virt device tree through dtc${HAVE_DTC ? '' : ' (skipped: dtc, from device-tree-compiler, is not installed)'}`, () => {
  it('decodes with dtc -I dtb -O dts and shows the expected nodes and properties', () => {
    const file = join(tmp, 'virt.dtb');
    writeFileSync(file, writeVirtDtb({ harts: 2, ramSize: 256 * MiB, bootargs: 'console=ttyS0' }));
    const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', file], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    // dtc's only complaint is the one it also makes about QEMU's blob (cpu-intc without #address-cells).
    expect(r.stderr.split('\n').filter((l) => l && !l.includes('interrupt_provider'))).toEqual([]);
    const dts = r.stdout;
    for (const s of [
      'compatible = "riscv-virtio";',
      'memory@80000000 {',
      'reg = <0x00 0x80000000 0x00 0x10000000>;',
      'timebase-frequency = <0x989680>;',
      'cpu@1 {',
      'riscv,isa = "rv64imafdc_zicsr_zifencei";',
      'compatible = "riscv,cpu-intc";',
      'bootargs = "console=ttyS0";',
      'stdout-path = "/soc/serial@10000000";',
      'serial@10000000 {',
      'compatible = "ns16550a";',
      'compatible = "sifive,plic-1.0.0\\0riscv,plic0";',
      'riscv,ndev = <0x5f>;',
      'interrupts-extended = <0x04 0x0b 0x04 0x09 0x02 0x0b 0x02 0x09>;',
      'compatible = "sifive,clint0\\0riscv,clint0";',
      'compatible = "sifive,test1\\0sifive,test0\\0syscon";',
      'compatible = "syscon-poweroff";',
      'value = <0x7777>;',
      'compatible = "google,goldfish-rtc";',
      'virtio_mmio@10008000 {',
    ]) {
      expect(dts).toContain(s);
    }
  });

  it('survives dts -> dtb -> dts through dtc unchanged', () => {
    const file = join(tmp, 'rt.dtb');
    writeFileSync(file, writeVirtDtb({ harts: 2, ramSize: 256 * MiB }));
    const dts1 = spawnSync('dtc', ['-q', '-I', 'dtb', '-O', 'dts', file], { encoding: 'utf8' }).stdout;
    const dtb2 = spawnSync('dtc', ['-q', '-I', 'dts', '-O', 'dtb'], { input: dts1 }).stdout as Buffer;
    const back = parseFdt(new Uint8Array(dtb2));
    expect(flatten(back.root)).toEqual(flatten(parseFdt(readFileSync(file)).root));
  });
});

describe.skipIf(!HAVE_QEMU)(`virt device tree against QEMU's${HAVE_QEMU ? '' : ' (skipped: qemu-system-riscv64 is not installed)'}`, () => {
  // The intentional differences, as listed at the top of drivers/board/dtb.ts.
  const QEMU_ONLY_NODES = /^\/(pmu|fw-cfg@.*|flash@.*|platform-bus@.*|soc\/pci@.*)$/;
  const OPTIONAL_PROPS = new Set(['rng-seed', 'riscv,isa-base', 'riscv,isa-extensions', 'riscv,cbom-block-size', 'riscv,cboz-block-size', 'riscv,cbop-block-size']);
  const DIFFERENT_VALUES = new Set(['riscv,isa', 'riscv,ndev', 'mmu-type', ...OPTIONAL_PROPS]);

  it('has the same nodes, properties and values apart from the listed differences', () => {
    const file = join(tmp, 'qemu.dtb');
    const r = spawnSync('qemu-system-riscv64', ['-M', `virt,dumpdtb=${file}`, '-smp', '2', '-m', '256M', '-nographic', '-display', 'none'], {
      stdio: 'ignore',
      timeout: 10_000,
    });
    expect(r.status).toBe(0);
    const qemu = flatten(parseFdt(readFileSync(file)).root);
    const ours = flatten(tree(2));

    const qemuNodes = [...qemu.keys()].filter((p) => !QEMU_ONLY_NODES.test(p));
    expect([...ours.keys()]).toEqual(qemuNodes); // same nodes, same order

    for (const [path, qprops] of qemu) {
      const oprops = ours.get(path);
      if (!oprops) continue;
      const names = (m: Map<string, string>) => [...m.keys()].filter((n) => !OPTIONAL_PROPS.has(n));
      expect(names(oprops), path).toEqual(names(qprops)); // same properties, same order
      for (const [name, value] of qprops) {
        if (!DIFFERENT_VALUES.has(name)) expect(oprops.get(name), `${path}:${name}`).toBe(value);
      }
    }
  });
});

describe('hv dtb', () => {
  it('parses QEMU-style options', () => {
    expect(parseDtbArgs(['-m', '1G', '-smp', '4', '-append', 'console=ttyS0', 'out.dtb'])).toEqual({
      ramSize: 2 ** 30,
      harts: 4,
      bootargs: 'console=ttyS0',
      out: 'out.dtb',
    });
    expect(parseDtbArgs(['x.dtb'])).toMatchObject({ ramSize: 128 * MiB, harts: 1 });
    expect(parseDtbArgs(['-smp', 'cpus=2,sockets=1', 'x.dtb'])!.harts).toBe(2);
    expect(parseDtbArgs(['--help'])).toBeNull();
  });

  it('rejects bad command lines with a UsageError', () => {
    for (const argv of [[], ['-m'], ['-m', 'lots', 'x'], ['-smp', '0', 'x'], ['-smp', '600', 'x'], ['-q', 'x'], ['a', 'b']]) {
      expect(() => parseDtbArgs(argv), argv.join(' ')).toThrow(UsageError);
    }
  });

  it('writes the blob to the output file', async () => {
    const out = join(tmp, 'cli.dtb');
    expect(await dtbCommand(['-m', '512', '-smp', '2', out])).toBe(0);
    const { root } = parseFdt(readFileSync(out));
    expect(root.find('/memory@80000000')!.getCells('reg')).toEqual([0, 0x8000_0000, 0, 512 * MiB]);
    expect(root.find('/cpus/cpu@1')).toBeDefined();
  });
});
