// One colour per partition, the same in every picture.
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function partitionColor(id: number): string {
  return PALETTE[id % PALETTE.length]!;
}
