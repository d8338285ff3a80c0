// How many cases a fuzz campaign runs: a bounded number in CI, many more with
// `npm run fuzz` (RINGSTORE_FUZZ_RUNS). fast-check prints the seed and path of
// any failure; RINGSTORE_FUZZ_SEED replays one.
export function fuzzRuns(ciDefault: number): number {
  return Number(process.env.RINGSTORE_FUZZ_RUNS ?? ciDefault);
}

export function fuzzParams(ciDefault: number): { numRuns: number; seed?: number; verbose: number } {
  const seed = process.env.RINGSTORE_FUZZ_SEED;
  return { numRuns: fuzzRuns(ciDefault), verbose: 1, ...(seed ? { seed: Number(seed) } : {}) };
}
