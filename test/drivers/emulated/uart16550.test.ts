import { describe, expect, it } from 'vitest';
import {
  FCR_CLEAR_RX,
  FCR_ENABLE,
  IER_EDSSI,
  IER_ELSI,
  IER_ERBFI,
  IER_ETBEI,
  IIR_CTI,
  IIR_FIFO_ENABLED,
  IIR_MSI,
  IIR_NO_INT,
  IIR_RDI,
  IIR_RLSI,
  IIR_THRI,
  LCR_DLAB,
  LSR_DR,
  LSR_OE,
  LSR_TEMT,
  LSR_THRE,
  MCR_LOOP,
  MCR_OUT2,
  MCR_RTS,
  MSR_CTS,
  MSR_DCD,
  MSR_DCTS,
  MSR_DDCD,
  MSR_DSR,
  UART_FCR,
  UART_IER,
  UART_IIR,
  UART_LCR,
  UART_LSR,
  UART_MCR,
  UART_MSR,
  UART_RBR,
  UART_SCR,
  Uart16550,
} from '../../../drivers/emulated/uart16550.ts';

function uart() {
  const tx: number[] = [];
  const irqs: boolean[] = [];
  const dev = new Uart16550({ onTransmit: (b) => tx.push(b), irq: (l) => irqs.push(l) });
  const rd = (off: number) => dev.read(off, 1);
  const wr = (off: number, v: number) => dev.write(off, 1, v);
  const line = () => irqs[irqs.length - 1] ?? false;
  const iirId = () => rd(UART_IIR) & 0x0f;
  return { dev, tx, irqs, rd, wr, line, iirId };
}

describe('UART 16550 registers', () => {
  it('starts with an empty transmitter and no interrupt', () => {
    const { rd } = uart();
    expect(rd(UART_LSR)).toBe(LSR_THRE | LSR_TEMT);
    expect(rd(UART_IIR)).toBe(IIR_NO_INT);
    expect(rd(UART_IER)).toBe(0);
    expect(rd(UART_MSR)).toBe(MSR_DCD | MSR_DSR | MSR_CTS);
  });

  it('sends bytes written to THR to the host', () => {
    const { wr, tx, rd } = uart();
    for (const c of 'hi\n') wr(UART_RBR, c.charCodeAt(0));
    expect(String.fromCharCode(...tx)).toBe('hi\n');
    expect(rd(UART_LSR) & (LSR_THRE | LSR_TEMT)).toBe(LSR_THRE | LSR_TEMT);
  });

  it('reaches the divisor latch through DLAB without transmitting', () => {
    const { wr, rd, tx } = uart();
    wr(UART_LCR, LCR_DLAB | 0x03);
    wr(UART_RBR, 0x01);
    wr(UART_IER, 0x02);
    expect(rd(UART_RBR)).toBe(0x01);
    expect(rd(UART_IER)).toBe(0x02);
    wr(UART_LCR, 0x03);
    expect(rd(UART_IER)).toBe(0); // IER untouched by the DLM write
    expect(rd(UART_LCR)).toBe(0x03);
    expect(tx).toEqual([]);
  });

  it('keeps the scratch register', () => {
    const { wr, rd } = uart();
    wr(UART_SCR, 0xa5);
    expect(rd(UART_SCR)).toBe(0xa5);
  });

  it('keeps only the four defined IER bits', () => {
    const { wr, rd } = uart();
    wr(UART_IER, 0xff);
    expect(rd(UART_IER)).toBe(0x0f);
  });

  it('reports FIFO mode in the top bits of IIR', () => {
    const { wr, rd } = uart();
    wr(UART_FCR, FCR_ENABLE);
    expect(rd(UART_IIR)).toBe(IIR_FIFO_ENABLED | IIR_NO_INT);
    wr(UART_FCR, 0);
    expect(rd(UART_IIR)).toBe(IIR_NO_INT);
  });
});

describe('UART 16550 reception', () => {
  it('sets LSR.DR while received data is waiting and returns it from RBR', () => {
    const { dev, rd } = uart();
    dev.receive('ab');
    expect(rd(UART_LSR) & LSR_DR).toBe(LSR_DR);
    expect(rd(UART_RBR)).toBe(0x61);
    expect(rd(UART_RBR)).toBe(0x62);
    expect(rd(UART_LSR) & LSR_DR).toBe(0);
    expect(rd(UART_RBR)).toBe(0); // empty
  });

  it('queues input beyond the FIFO and feeds it as the guest reads, without overrun', () => {
    const { dev, wr, rd } = uart();
    wr(UART_FCR, FCR_ENABLE);
    const input = Array.from({ length: 100 }, (_, i) => i);
    dev.receive(Uint8Array.from(input));
    expect(dev.pendingInput).toBe(100);
    const got: number[] = [];
    while (rd(UART_LSR) & LSR_DR) got.push(rd(UART_RBR));
    expect(got).toEqual(input);
    expect(rd(UART_LSR) & LSR_OE).toBe(0);
  });

  it('delivers queued input one byte at a time with the FIFOs off', () => {
    const { dev, rd } = uart();
    dev.receive([1, 2, 3]);
    expect([rd(UART_RBR), rd(UART_RBR), rd(UART_RBR)]).toEqual([1, 2, 3]);
  });

  it('raises a data-available interrupt when ERBFI is set and data arrives', () => {
    const { dev, wr, line, iirId } = uart();
    wr(UART_IER, IER_ERBFI);
    expect(line()).toBe(false);
    dev.receive('x');
    expect(line()).toBe(true);
    expect(iirId()).toBe(IIR_RDI);
  });

  it('drops the data interrupt once the guest has read everything', () => {
    const { dev, wr, rd, line } = uart();
    wr(UART_IER, IER_ERBFI);
    dev.receive('x');
    rd(UART_RBR);
    expect(line()).toBe(false);
  });

  it('reports a character timeout below the FIFO trigger level and data available at it', () => {
    const { dev, wr, rd, iirId } = uart();
    wr(UART_FCR, FCR_ENABLE | 0x80); // trigger level 8
    wr(UART_IER, IER_ERBFI);
    dev.receive('1234');
    expect(iirId()).toBe(IIR_CTI);
    dev.receive('5678');
    expect(iirId()).toBe(IIR_RDI);
    rd(UART_RBR);
    expect(iirId()).toBe(IIR_CTI);
  });

  it('empties the RX FIFO on an FCR receive reset', () => {
    const { wr, rd } = uart();
    wr(UART_FCR, FCR_ENABLE);
    wr(UART_MCR, MCR_LOOP);
    wr(UART_RBR, 0x41);
    expect(rd(UART_LSR) & LSR_DR).toBe(LSR_DR);
    wr(UART_FCR, FCR_ENABLE | FCR_CLEAR_RX);
    expect(rd(UART_LSR) & LSR_DR).toBe(0);
  });
});

describe('UART 16550 THR-empty interrupt', () => {
  it('is raised when ETBEI is enabled while THR is empty', () => {
    const { wr, line, iirId } = uart();
    wr(UART_IER, IER_ETBEI);
    expect(line()).toBe(true);
    expect(iirId()).toBe(IIR_THRI);
  });

  it('is cleared by reading IIR', () => {
    const { wr, rd, line } = uart();
    wr(UART_IER, IER_ETBEI);
    expect(rd(UART_IIR) & 0x0f).toBe(IIR_THRI);
    expect(line()).toBe(false);
    expect(rd(UART_IIR) & 0x0f).toBe(IIR_NO_INT);
  });

  it('is raised again once a written byte has left THR', () => {
    const { wr, rd, line, tx } = uart();
    wr(UART_IER, IER_ETBEI);
    rd(UART_IIR); // acknowledge
    expect(line()).toBe(false);
    wr(UART_RBR, 0x42);
    expect(tx).toEqual([0x42]);
    expect(line()).toBe(true);
  });

  it('is not cleared by an IIR read that reports a higher-priority source', () => {
    const { dev, wr, rd, iirId } = uart();
    wr(UART_IER, IER_ETBEI | IER_ERBFI);
    dev.receive('z');
    expect(iirId()).toBe(IIR_RDI);
    rd(UART_RBR);
    expect(iirId()).toBe(IIR_THRI);
  });

  it('goes away when ETBEI is disabled', () => {
    const { wr, line } = uart();
    wr(UART_IER, IER_ETBEI);
    wr(UART_IER, 0);
    expect(line()).toBe(false);
  });
});

describe('UART 16550 line and modem status', () => {
  it('loops THR back to RBR in loopback mode, without transmitting', () => {
    const { wr, rd, tx } = uart();
    wr(UART_MCR, MCR_LOOP);
    wr(UART_RBR, 0x55);
    expect(tx).toEqual([]);
    expect(rd(UART_RBR)).toBe(0x55);
  });

  it('flags an overrun when loopback overflows the FIFO, and clears it when LSR is read', () => {
    const { wr, rd } = uart();
    wr(UART_FCR, FCR_ENABLE);
    wr(UART_MCR, MCR_LOOP);
    for (let i = 0; i < 17; i++) wr(UART_RBR, i);
    expect(rd(UART_LSR) & LSR_OE).toBe(LSR_OE);
    expect(rd(UART_LSR) & LSR_OE).toBe(0);
    const got: number[] = [];
    while (rd(UART_LSR) & LSR_DR) got.push(rd(UART_RBR));
    expect(got).toEqual(Array.from({ length: 16 }, (_, i) => i)); // the 17th byte was lost
  });

  it('ranks a line-status interrupt above received data', () => {
    const { wr, rd, iirId } = uart();
    wr(UART_MCR, MCR_LOOP);
    wr(UART_IER, IER_ELSI | IER_ERBFI);
    wr(UART_RBR, 1);
    wr(UART_RBR, 2); // overrun without FIFOs
    expect(iirId()).toBe(IIR_RLSI);
    rd(UART_LSR);
    expect(iirId()).toBe(IIR_RDI);
  });

  it('mirrors MCR on the modem inputs in loopback, as Linux probes for', () => {
    const { wr, rd } = uart();
    wr(UART_MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS);
    expect(rd(UART_MSR) & 0xf0).toBe(MSR_DCD | MSR_CTS);
  });

  it('raises a modem-status interrupt on a delta and clears it when MSR is read', () => {
    const { wr, rd, iirId, line } = uart();
    wr(UART_IER, IER_EDSSI);
    wr(UART_MCR, MCR_LOOP); // all modem inputs drop: DCTS, DDCD
    expect(line()).toBe(true);
    expect(iirId()).toBe(IIR_MSI);
    expect(rd(UART_MSR) & (MSR_DCTS | MSR_DDCD)).toBe(MSR_DCTS | MSR_DDCD);
    expect(line()).toBe(false);
  });

  it('holds host input while in loopback and delivers it afterwards', () => {
    const { dev, wr, rd } = uart();
    wr(UART_MCR, MCR_LOOP);
    dev.receive('q');
    expect(rd(UART_LSR) & LSR_DR).toBe(0);
    wr(UART_MCR, 0);
    expect(rd(UART_RBR)).toBe(0x71);
  });
});

describe('UART 16550 reset and snapshots', () => {
  it('returns to the power-on state on reset', () => {
    const { dev, wr, rd, line } = uart();
    wr(UART_IER, IER_ETBEI);
    wr(UART_SCR, 7);
    dev.receive('abc');
    dev.reset();
    expect(line()).toBe(false);
    expect(rd(UART_SCR)).toBe(0);
    expect(rd(UART_LSR)).toBe(LSR_THRE | LSR_TEMT);
  });

  it('restores registers, FIFO contents and queued input from a snapshot', () => {
    const a = uart();
    a.wr(UART_FCR, FCR_ENABLE);
    a.wr(UART_IER, IER_ERBFI);
    a.wr(UART_SCR, 0x3c);
    a.dev.receive(Uint8Array.from({ length: 20 }, (_, i) => 0x30 + i));
    const snap = JSON.parse(JSON.stringify(a.dev.save()));
    const b = uart();
    b.dev.restore(snap);
    expect(b.line()).toBe(true);
    expect(b.rd(UART_SCR)).toBe(0x3c);
    const got: number[] = [];
    while (b.rd(UART_LSR) & LSR_DR) got.push(b.rd(UART_RBR));
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => 0x30 + i));
  });

  it('rejects a malformed snapshot with a DeviceStateError', () => {
    const { dev } = uart();
    expect(() => dev.restore({ ier: 'x' })).toThrow(/uart0/);
  });
});

describe('UART 16550 access widths', () => {
  it('treats a wider access as an access to the byte register at that offset', () => {
    const { dev, tx } = uart();
    dev.write(UART_RBR, 4, 0x1234_5641);
    expect(tx).toEqual([0x41]);
    expect(dev.read(UART_LSR, 4)).toBe(LSR_THRE | LSR_TEMT);
  });

  it('reads 0 past the eight registers of its window', () => {
    const { dev } = uart();
    expect(dev.read(0x08, 1)).toBe(0);
    expect(dev.read(0xfc, 4)).toBe(0);
  });

  it('MSR and LSR ignore writes', () => {
    const { dev, rd } = uart();
    dev.write(UART_LSR, 1, 0);
    dev.write(UART_MSR, 1, 0);
    expect(rd(UART_LSR)).toBe(LSR_THRE | LSR_TEMT);
    expect(rd(UART_MSR) & 0xf0).toBe(MSR_DCD | MSR_DSR | MSR_CTS);
  });
});
