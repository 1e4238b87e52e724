// Ballooning with Linux's own virtio-balloon driver (drivers/virtio/
// virtio_balloon.c, CONFIG_VIRTIO_BALLOON in guests/linux/kernel.config):
// the host sets a target, the driver inflates toward it, the pages it gives
// leave the partition and their frames return to the host's pool; a larger
// target deflates it again, and the guest keeps working throughout. Runs on
// the deterministic host, in this process, so the test can look at the
// kernel's figures between rounds.
import { describe, expect, it } from 'vitest';
import { Hypervisor } from '../../runtime/host/hypervisor.ts';
import { partitionSpec } from '../../runtime/host/spec.ts';
import { setupPartition, specHostBytes } from '../../runtime/machine/setup.ts';
import { linuxImage, PROMPT, until } from '../support/linux.ts';

const image = linuxImage();
const TEST_MS = 600_000;
const MiB = 1 << 20;

describe.skipIf(!image)('Linux with a virtio-balloon', () => {
  it.each(['nested', 'shadow'] as const)(
    "Linux's driver inflates to the host's target, giving frames back to the pool, and deflates (%s paging)",
    async (paging) => {
      const spec = partitionSpec('linux', image!, { memory: 128 * MiB, paging, boot: 'enlightened', overcommit: { balloon: true } });
      const hv = new Hypervisor(specHostBytes(spec));
      let out = '';
      const { machine } = setupPartition(spec, hv, { onConsole: (b) => (out += Buffer.from(b).toString('latin1')), clock: 'icount' });
      hv.sharePagesPerRound = 0; // ballooning alone: every frame freed below is the balloon's
      const oc = machine.overcommit!;
      const running = machine.run({ timeoutMs: TEST_MS - 30_000 });
      const tail = () => out.slice(-1500);
      await until(() => PROMPT.test(out), 300_000, () => `no shell prompt:\n${tail()}`, 50);
      expect(out).toMatch(/virtio_balloon|hv-linux: userspace up/);

      const used = hv.kernel.exports.framesUsed();
      const unpopulated = oc.map().unpopulated;
      oc.setBalloonTarget(80 * MiB); // keep 80 of 128 MiB: a 48 MiB balloon
      await until(() => oc.balloonStatus()!.actualBytes === 80 * MiB, 120_000, () => JSON.stringify(oc.balloonStatus()));
      const balloonPages = (48 * MiB) / 4096;
      // Free page reporting may have given more (pages the guest reuses come back as it touches them).
      expect(oc.map().ballooned).toBeGreaterThanOrEqual(balloonPages);
      // Each page it gave had a frame, which went back to the pool, or had never been written (demand-allocated RAM).
      expect(used - hv.kernel.exports.framesUsed() + (unpopulated - oc.map().unpopulated)).toBeGreaterThanOrEqual(balloonPages);

      // The guest still runs commands.
      const run = async (command: string): Promise<string> => {
        const from = out.length;
        machine.input(command + '\n');
        await until(() => PROMPT.test(out.slice(from)), 60_000, tail);
        return out.slice(from);
      };
      expect(await run('echo still here')).toContain('still here');

      oc.setBalloonTarget(128 * MiB); // deflate completely
      await until(() => oc.balloonStatus()!.actualBytes === 128 * MiB, 120_000, () => JSON.stringify(oc.balloonStatus()));
      // The deflated pages are the guest's again: it fills 56 MiB of tmpfs (half its RAM may be tmpfs).
      expect(await run('dd if=/dev/zero of=/tmp/fill bs=1M count=56 2>&1; rm /tmp/fill; echo done')).toMatch(/56\+0 records out[\s\S]*done/);
      // The statistics queue reports the guest's figures.
      await until(() => (oc.balloonStatus()!.guestStats.totalMemory ?? 0) > 0, 60_000, () => JSON.stringify(oc.balloonStatus()));

      machine.input('poweroff\n');
      await running;
      expect(machine.result).toMatchObject({ kind: 'exit', code: 0 });
    },
    TEST_MS,
  );
});
