import type { ValueTransformer } from 'typeorm';

/** bigint columns as numbers: every counter here stays below 2^53. */
export const bigintAsNumber: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | null) => (v === null ? null : Number(v)),
};
