// `hv run -nic vmbus[,mac=...]`: a synthetic NIC on the host's virtual
// switch from the command line, QEMU's -nic spelling.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseNic } from '../../../runtime/cli/nic.ts';
import { UsageError } from '../../../runtime/cli/errors.ts';

function hv(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/hv.js', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const PING = 'guests/bin/enlightened/vmbus-ping.elf';

describe('-nic', () => {
  it('takes vmbus with an optional mac, and nothing else', () => {
    expect(parseNic('vmbus')).toEqual({});
    expect(parseNic('vmbus,mac=52:54:00:aa:bb:cc')).toEqual({ mac: '52:54:00:aa:bb:cc' });
    expect(() => parseNic('user')).toThrow(/type 'user' is not one hv offers/);
    expect(() => parseNic('vmbus,model=virtio')).toThrow(/unknown option 'model'/);
    expect(() => parseNic('vmbus,mac=52:54:00:aa:bb:cc,mac=52:54:00:aa:bb:cd')).toThrow(/'mac' given twice/);
    expect(() => parseNic('vmbus,mac')).toThrow(UsageError);
  });

  it('gives the guest a NIC with that MAC; alone on the switch, its ARP goes unanswered, asked again every 100 ms', () => {
    const r = hv('run', '--icount', '-bios', 'hv', '-nic', 'vmbus,mac=52:54:00:aa:bb:cc', PING);
    expect(r.stdout).toContain('netvsc: MAC 52:54:00:aa:bb:cc, MTU 1500, link up, 10000 Mbit/s\n');
    // Each try waits its 100 ms and no more: netvsc_recv once waited for the
    // library's request timeout (1 s, then 10 s) whatever its caller's
    // deadline, so a first ARP lost before the peer's NIC was up was asked
    // again only after the peer had given up (a hang of minutes, 1 run in 12).
    const ms = Number(/FAIL arp: no answer from 10\.0\.0\.2 in 50 tries, (\d+) ms\n/.exec(r.stdout)?.[1]);
    expect(ms).toBeGreaterThanOrEqual(5000);
    expect(ms).toBeLessThan(5500);
    expect(r.code).toBe(1);
  });

  it('generates the MAC from the partition name when none is given', () => {
    const r = hv('run', '--icount', '-bios', 'hv', '-nic', 'vmbus', PING);
    expect(r.stdout).toMatch(/netvsc: MAC 00:15:5d:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}, MTU 1500/);
  });

  it('--stats prints each NIC\'s switch port with its counters', () => {
    const r = hv('run', '--deterministic', '--icount', '--stats', '--config', 'guests/enlightened/vmbus-net.json');
    expect(r.code).toBe(0);
    // pong answers one ARP request and three echo requests, all unicast to ping.
    expect(r.stderr).toMatch(/^hv \[ping\]: switch port ping\/0 \(00:15:5d:82:e9:46\): in \d+ frames \d+ B, out 4 frames \d+ B, dropped in 0 out 0, 1 MACs learned$/m);
    expect(r.stderr).toMatch(/^hv \[pong\]: switch port pong\/0 \(52:54:00:00:00:02\): in 4 frames \d+ B, out \d+ frames \d+ B, dropped in 0 out 0, 1 MACs learned$/m);
  });

  it('lets two guests on the threaded host close their NICs cleanly, every time', () => {
    // A guest's CLOSECHANNEL used to be lost now and then (about one run in
    // three): an interrupt raised for a vCPU while the root serviced its
    // exit woke it early, so its next exit was ended unserviced. Then its
    // GPADL_TEARDOWN found the channel open and was refused on stderr.
    for (let i = 0; i < 6; i++) {
      const r = hv('run', '--config', 'guests/enlightened/vmbus-net.json');
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('[ping] vmbus: NIC closed, unloaded\n');
      expect(r.stdout).toContain('[pong] vmbus: NIC closed, unloaded\n');
      expect(r.code).toBe(0);
    }
  });

  it('refuses bad MACs, guests without VMBus and several FILEs with one-line usage errors', () => {
    const usage = (r: ReturnType<typeof hv>, message: RegExp) => {
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.code).toBe(2);
    };
    usage(hv('run', '-bios', 'hv', '-nic', 'vmbus,mac=01:00:5e:00:00:01', PING), /^hv run: -nic #1: must be a unicast MAC/);
    usage(hv('run', '-bios', 'hv', '-nic', 'vmbus,mac=52:54:00:00:00:01', '-nic', 'vmbus,mac=52:54:00:00:00:01', PING), /^hv run: -nic #2: 52:54:00:00:00:01 is also nics\[0\]'s/);
    usage(hv('run', '-nic', 'vmbus', 'guests/bin/hello.elf'), /-nic #1: a NIC on VMBus needs boot "enlightened"/);
    usage(hv('run', '-nic', 'vmbus', PING, PING), /-nic applies to a single guest/);
    usage(hv('run', '-nic', 'tap', PING), /-nic: type 'tap'/);
  });
});
