// Live migration's one error type: what failed, in which phase. The source
// partition keeps running after any of them (source.ts); the target never
// starts a partition whose stream ended in one (target.ts).

export type MigrationPhase = 'connect' | 'handshake' | 'pre-copy' | 'stop-and-copy' | 'confirm';

export class MigrationError extends Error {
  constructor(
    readonly phase: MigrationPhase,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`migration failed in ${phase}: ${problem}`, options);
    this.name = 'MigrationError';
  }
}
