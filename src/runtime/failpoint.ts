// Named points in a protocol where a test may have this process die at once
// (kill -9 of itself), to try recovery from exactly that step, as etcd's
// gofail and FoundationDB's buggify do. Off unless the environment variable
// RINGSTORE_FAILPOINT names the point: one process of a test cluster is
// started with it, the others without.
const armed = process.env.RINGSTORE_FAILPOINT ?? '';

export function failpoint(name: string): void {
  if (armed !== '' && armed === name) process.kill(process.pid, 'SIGKILL');
}
