import { describe, expect, it } from 'vitest';
import { type FinisherEvent, TestFinisher } from '../../../drivers/emulated/test_finisher.ts';

function finisher() {
  const events: FinisherEvent[] = [];
  return { dev: new TestFinisher((e) => events.push(e)), events };
}

describe('test finisher', () => {
  it('powers off with status 0 on 0x5555', () => {
    const { dev, events } = finisher();
    dev.write(0, 4, 0x5555);
    expect(events).toEqual([{ kind: 'poweroff', code: 0 }]);
  });

  it('reports a failure with the code in the high half on 0x3333', () => {
    const { dev, events } = finisher();
    dev.write(0, 4, (42 << 16) | 0x3333);
    dev.write(0, 4, 0xffff_3333);
    expect(events).toEqual([
      { kind: 'fail', code: 42 },
      { kind: 'fail', code: 0xffff },
    ]);
  });

  it('requests a reset on 0x7777', () => {
    const { dev, events } = finisher();
    dev.write(0, 4, 0x7777);
    expect(events).toEqual([{ kind: 'reset' }]);
  });

  it('accepts a 16-bit store of the command', () => {
    const { dev, events } = finisher();
    dev.write(0, 2, 0x5555);
    expect(events).toEqual([{ kind: 'poweroff', code: 0 }]);
  });

  it('ignores other values, other offsets, byte stores, and reads as 0', () => {
    const { dev, events } = finisher();
    dev.write(0, 4, 0x1234);
    dev.write(4, 4, 0x5555);
    dev.write(0, 1, 0x55);
    expect(events).toEqual([]);
    expect(dev.read(0, 4)).toBe(0);
  });
});
