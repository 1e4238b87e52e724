// --timeout past Node's 32-bit timer limit (2^31-1 ms, 24.8 days) fires when
// it should, not at once.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseArgs, timeoutOption } from '../../../runtime/cli/args.ts';
import { MAX_TIMER_MS, setLongTimeout } from '../../../runtime/cli/timer.ts';

describe('setLongTimeout', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires after a delay longer than one Node timer takes, and not before', () => {
    const fn = vi.fn();
    const ms = 2_147_484_000; // --timeout 2147484
    setLongTimeout(fn, ms);
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(ms - MAX_TIMER_MS - 1);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('can be cancelled between the timers of a chain', () => {
    const fn = vi.fn();
    const cancel = setLongTimeout(fn, 3 * MAX_TIMER_MS);
    vi.advanceTimersByTime(MAX_TIMER_MS + 5);
    cancel();
    vi.advanceTimersByTime(3 * MAX_TIMER_MS);
    expect(fn).not.toHaveBeenCalled();
  });
});

describe('--timeout', () => {
  const parse = (v: string) => timeoutOption(parseArgs(['--timeout', v], { timeout: { value: true } }));

  it('takes seconds past 2^31 ms, fractions and exponents', () => {
    expect(parse('2147484')).toBe(2_147_484_000);
    expect(parse('0.5')).toBe(500);
    expect(parse('1e3')).toBe(1_000_000);
  });

  it.each(['1e400', 'Infinity', '0', '-5', '', '0x10', '31536001'])('rejects %j', (v) => {
    expect(() => parse(v)).toThrow(/--timeout wants a number of seconds above 0/);
  });
});
