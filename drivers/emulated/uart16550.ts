// NS16550A UART ("ns16550a"; TI PC16550D datasheet, QEMU hw/char/serial.c),
// byte registers at reg-shift 0, as on QEMU virt. Enough for OpenSBI's and
// U-Boot's uart8250 drivers and Linux's 8250 driver.
//
//   off  DLAB=0 read   DLAB=0 write   DLAB=1
//   0    RBR           THR            DLL (divisor low)
//   1    IER           IER            DLM (divisor high)
//   2    IIR           FCR
//   3    LCR           LCR
//   4    MCR           MCR
//   5    LSR           (ignored)
//   6    MSR           (ignored)
//   7    SCR           SCR
//
// Transmission is instantaneous: a byte written to THR goes to onTransmit at
// once, so THR and the transmitter are always empty again (LSR.THRE and TEMT
// stay set) and the THR-empty interrupt re-arms right after each write.
//
// Reception: receive() queues host bytes without limit and moves them into the
// 16-byte RX FIFO (1-byte RBR with FIFOs off) as the guest drains it, so host
// input is never lost to an overrun; the guest sees overruns only in loopback.
// Bytes arrive in host-sized bursts, so the FIFO's character-timeout condition
// (4 character times without input) holds as soon as the queue is empty: with
// fewer bytes than the trigger level in the FIFO, IIR reports a timeout
// (0xCC) instead of "data available" (0xC4), which is what drivers expect.
//
// Interrupt priority (IIR): line status > RX data / timeout > THR empty > modem status.

import { MEMMAP } from '../board/memmap.ts';
import { type AccessSize, boolField, type IrqLine, type MmioDevice, uintArrayField, uintField } from './device.ts';

// Register offsets.
export const UART_RBR = 0; // also THR, DLL
export const UART_IER = 1; // also DLM
export const UART_IIR = 2; // read
export const UART_FCR = 2; // write
export const UART_LCR = 3;
export const UART_MCR = 4;
export const UART_LSR = 5;
export const UART_MSR = 6;
export const UART_SCR = 7;

// IER bits.
export const IER_ERBFI = 0x01; // RX data available (and timeout)
export const IER_ETBEI = 0x02; // THR empty
export const IER_ELSI = 0x04; // line status
export const IER_EDSSI = 0x08; // modem status

// IIR values (low nibble) and the FIFOs-enabled bits.
export const IIR_NO_INT = 0x01;
export const IIR_MSI = 0x00;
export const IIR_THRI = 0x02;
export const IIR_RDI = 0x04;
export const IIR_RLSI = 0x06;
export const IIR_CTI = 0x0c;
export const IIR_FIFO_ENABLED = 0xc0;

// FCR bits.
export const FCR_ENABLE = 0x01;
export const FCR_CLEAR_RX = 0x02;
export const FCR_CLEAR_TX = 0x04;
export const FCR_DMA = 0x08;
const FCR_TRIGGER_LEVELS = [1, 4, 8, 14];

// LCR bits.
export const LCR_DLAB = 0x80;

// MCR bits.
export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;

// LSR bits.
export const LSR_DR = 0x01;
export const LSR_OE = 0x02;
export const LSR_PE = 0x04;
export const LSR_FE = 0x08;
export const LSR_BI = 0x10;
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;
const LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

// MSR bits: deltas in the low nibble, line states in the high one.
export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
export const MSR_TERI = 0x04;
export const MSR_DDCD = 0x08;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;
const MSR_DELTAS = 0x0f;
/** A terminal attached to the port: carrier, data set ready and clear to send (QEMU's reset value). */
const MSR_CONNECTED = MSR_DCD | MSR_DSR | MSR_CTS;

export const RX_FIFO_SIZE = 16;

export interface Uart16550Options {
  /** Receives each byte the guest transmits (not called in loopback mode). */
  onTransmit?: (byte: number) => void;
  /** The UART's interrupt line (PLIC source 10 on virt). */
  irq?: IrqLine;
}

export class Uart16550 implements MmioDevice {
  readonly name = 'uart0';
  readonly stateVersion = 1;
  readonly size = MEMMAP.uart0.size;

  private readonly onTransmit: (byte: number) => void;
  private readonly irq: IrqLine;

  private ier = 0;
  private iir = IIR_NO_INT; // last computed, without the FIFO bits
  private fcr = 0;
  private lcr = 0;
  private mcr = 0;
  private lsr = LSR_THRE | LSR_TEMT;
  private msr = MSR_CONNECTED;
  private scr = 0;
  private dll = 0;
  private dlm = 0;
  /** THR-empty interrupt condition: set when THR empties, cleared by an IIR read that reports it or a THR write. */
  private thrIpending = false;
  /** RX FIFO (or RBR, 1 entry, with FIFOs off). */
  private rx: number[] = [];
  /** Host bytes not yet in the FIFO. */
  private queue: number[] = [];
  private queueHead = 0;

  constructor(options: Uart16550Options = {}) {
    this.onTransmit = options.onTransmit ?? (() => {});
    this.irq = options.irq ?? (() => {});
  }

  /** Queues bytes from the host side of the serial line (keyboard, pipe). */
  receive(bytes: Uint8Array | ArrayLike<number> | string): void {
    const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
    for (let i = 0; i < data.length; i++) this.queue.push(data[i]! & 0xff);
    this.refill();
    this.update();
  }

  /** Received bytes the guest has not read yet (in the FIFO or still queued on the host side). */
  get pendingInput(): number {
    return this.queue.length - this.queueHead + this.rx.length;
  }

  read(offset: number, _size: AccessSize): number {
    // Wider accesses read the byte register at `offset`, zero-extended (as QEMU's serial_mm).
    switch (offset) {
      case UART_RBR:
        return this.lcr & LCR_DLAB ? this.dll : this.readRbr();
      case UART_IER:
        return this.lcr & LCR_DLAB ? this.dlm : this.ier;
      case UART_IIR: {
        const id = this.iir;
        // Reading IIR acknowledges a THR-empty interrupt, if that is what it reports.
        if (id === IIR_THRI) {
          this.thrIpending = false;
          this.update();
        }
        return id | (this.fcr & FCR_ENABLE ? IIR_FIFO_ENABLED : 0);
      }
      case UART_LCR:
        return this.lcr;
      case UART_MCR:
        return this.mcr;
      case UART_LSR: {
        const v = this.lsr;
        // Error bits are cleared by reading LSR.
        if (v & LSR_ERRORS) {
          this.lsr &= ~LSR_ERRORS;
          this.update();
        }
        return v;
      }
      case UART_MSR: {
        const v = this.msr;
        if (v & MSR_DELTAS) {
          this.msr &= ~MSR_DELTAS;
          this.update();
        }
        return v;
      }
      case UART_SCR:
        return this.scr;
      default:
        return 0; // outside the 8 registers of the 256-byte window
    }
  }

  write(offset: number, _size: AccessSize, value: number): void {
    const v = value & 0xff;
    switch (offset) {
      case UART_RBR:
        if (this.lcr & LCR_DLAB) this.dll = v;
        else this.writeThr(v);
        break;
      case UART_IER:
        if (this.lcr & LCR_DLAB) {
          this.dlm = v;
        } else {
          const was = this.ier;
          this.ier = v & 0x0f;
          // Enabling ETBEI while THR is empty raises the THR-empty interrupt
          // (16550 behaviour Linux probes for; QEMU does the same).
          if ((was ^ this.ier) & IER_ETBEI) this.thrIpending = (this.ier & IER_ETBEI) !== 0 && (this.lsr & LSR_THRE) !== 0;
        }
        break;
      case UART_FCR:
        this.writeFcr(v);
        break;
      case UART_LCR:
        this.lcr = v;
        break;
      case UART_MCR: {
        const was = this.mcr;
        this.mcr = v & 0x1f;
        if ((was ^ this.mcr) & MCR_LOOP && !(this.mcr & MCR_LOOP)) this.refill(); // host input reconnected
        this.setModemLines(this.mcr & MCR_LOOP ? loopbackMsr(this.mcr) : MSR_CONNECTED);
        break;
      }
      case UART_SCR:
        this.scr = v;
        break;
      default:
        return; // LSR and MSR are read-only; other offsets are unassigned
    }
    this.update();
  }

  reset(): void {
    this.ier = 0;
    this.iir = IIR_NO_INT;
    this.fcr = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.lsr = LSR_THRE | LSR_TEMT;
    this.msr = MSR_CONNECTED;
    this.scr = 0;
    this.dll = 0;
    this.dlm = 0;
    this.thrIpending = false;
    this.rx = [];
    this.queue = [];
    this.queueHead = 0;
    this.update();
  }

  save(): object {
    return {
      ier: this.ier,
      fcr: this.fcr,
      lcr: this.lcr,
      mcr: this.mcr,
      lsr: this.lsr,
      msr: this.msr,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      thrIpending: this.thrIpending,
      rx: [...this.rx],
      queue: this.queue.slice(this.queueHead),
    };
  }

  restore(state: object): void {
    const n = this.name;
    const byte = (key: string) => uintField(state, key, n, 0xff);
    const regs = {
      ier: byte('ier') & 0x0f,
      fcr: byte('fcr'),
      lcr: byte('lcr'),
      mcr: byte('mcr') & 0x1f,
      lsr: byte('lsr'),
      msr: byte('msr'),
      scr: byte('scr'),
      dll: byte('dll'),
      dlm: byte('dlm'),
    };
    const thrIpending = boolField(state, 'thrIpending', n);
    const rx = uintArrayField(state, 'rx', n, 0xff);
    const queue = uintArrayField(state, 'queue', n, 0xff);
    Object.assign(this, regs);
    this.thrIpending = thrIpending;
    this.rx = rx.slice(0, this.rxCapacity());
    this.queue = [...queue];
    this.queueHead = 0;
    this.lsr = (this.lsr & ~LSR_DR) | (this.rx.length > 0 ? LSR_DR : 0);
    this.update();
  }

  private rxCapacity(): number {
    return this.fcr & FCR_ENABLE ? RX_FIFO_SIZE : 1;
  }

  private readRbr(): number {
    const byte = this.rx.shift() ?? 0;
    this.refill();
    if (this.rx.length === 0) this.lsr &= ~(LSR_DR | LSR_BI);
    this.update();
    return byte;
  }

  private writeThr(byte: number): void {
    // Writing THR acknowledges the THR-empty interrupt; the byte leaves at once,
    // THR is empty again and (with ETBEI) the interrupt re-arms.
    this.thrIpending = false;
    if (this.mcr & MCR_LOOP) this.loopback(byte);
    else this.onTransmit(byte);
    this.lsr |= LSR_THRE | LSR_TEMT;
    this.thrIpending = (this.ier & IER_ETBEI) !== 0;
  }

  private writeFcr(v: number): void {
    let val = v;
    // Toggling the FIFO enable clears both FIFOs.
    if ((val ^ this.fcr) & FCR_ENABLE) val |= FCR_CLEAR_RX | FCR_CLEAR_TX;
    if (val & FCR_CLEAR_RX) {
      this.rx = [];
      this.lsr &= ~(LSR_DR | LSR_BI);
    }
    if (val & FCR_CLEAR_TX) {
      this.lsr |= LSR_THRE | LSR_TEMT;
      this.thrIpending = (this.ier & IER_ETBEI) !== 0;
    }
    // The clear bits self-clear; keep enable, DMA mode and the trigger level.
    this.fcr = val & (FCR_ENABLE | FCR_DMA | 0xc0);
    this.refill();
  }

  /** A byte looped back from THR to the receiver (MCR.LOOP). */
  private loopback(byte: number): void {
    if (this.rx.length < this.rxCapacity()) {
      this.rx.push(byte);
    } else {
      // Overrun: with FIFOs the new character is lost; without, it replaces RBR.
      this.lsr |= LSR_OE;
      if (!(this.fcr & FCR_ENABLE)) this.rx[0] = byte;
    }
    this.lsr |= LSR_DR;
  }

  /** Moves queued host bytes into the FIFO while there is room and the line is connected. */
  private refill(): void {
    if (this.mcr & MCR_LOOP) return;
    const cap = this.rxCapacity();
    while (this.rx.length < cap && this.queueHead < this.queue.length) {
      this.rx.push(this.queue[this.queueHead++]!);
    }
    if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    if (this.rx.length > 0) this.lsr |= LSR_DR;
  }

  private setModemLines(lines: number): void {
    const old = this.msr;
    let deltas = old & MSR_DELTAS;
    const changed = (old ^ lines) & 0xf0;
    if (changed & MSR_CTS) deltas |= MSR_DCTS;
    if (changed & MSR_DSR) deltas |= MSR_DDSR;
    if (changed & MSR_DCD) deltas |= MSR_DDCD;
    if (old & MSR_RI && !(lines & MSR_RI)) deltas |= MSR_TERI; // trailing edge of ring indicator
    this.msr = (lines & 0xf0) | deltas;
  }

  /** Recomputes IIR and drives the interrupt line. */
  private update(): void {
    let id = IIR_NO_INT;
    if (this.ier & IER_ELSI && this.lsr & LSR_ERRORS) {
      id = IIR_RLSI;
    } else if (this.ier & IER_ERBFI && this.rx.length > 0) {
      // FIFO mode: "data available" at the trigger level, a timeout below it.
      const fifo = (this.fcr & FCR_ENABLE) !== 0;
      id = !fifo || this.rx.length >= FCR_TRIGGER_LEVELS[this.fcr >>> 6]! ? IIR_RDI : IIR_CTI;
    } else if (this.ier & IER_ETBEI && this.thrIpending) {
      id = IIR_THRI;
    } else if (this.ier & IER_EDSSI && this.msr & MSR_DELTAS) {
      id = IIR_MSI;
    }
    this.iir = id;
    // Driven on every update, as QEMU's serial_update_irq does: a request
    // for the PLIC each time (device.ts, IrqLine).
    this.irq(id !== IIR_NO_INT);
  }
}

/** MSR line states in loopback: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2. */
function loopbackMsr(mcr: number): number {
  return (
    (mcr & MCR_RTS ? MSR_CTS : 0) |
    (mcr & MCR_DTR ? MSR_DSR : 0) |
    (mcr & MCR_OUT1 ? MSR_RI : 0) |
    (mcr & MCR_OUT2 ? MSR_DCD : 0)
  );
}
