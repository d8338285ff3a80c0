// Summarise a .cpuprofile (node --cpu-prof): self time by function and by file,
// to see where a process spends its CPU.   npx tsx bench/profile-summary.ts <file>...
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount: number;
  children?: number[];
}

for (const file of process.argv.slice(2)) {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };
  const selfTime = new Map<number, number>();
  prof.samples.forEach((id, i) => selfTime.set(id, (selfTime.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (const n of prof.nodes) {
    const t = selfTime.get(n.id) ?? 0;
    total += t;
    const url = n.callFrame.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/');
    const key = `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber}`;
    byFn.set(key, (byFn.get(key) ?? 0) + t);
    const fkey = url.includes('node_modules/') ? url.split('/').slice(0, url.includes('@') ? 3 : 2).join('/') : url || n.callFrame.functionName;
    byFile.set(fkey, (byFile.get(fkey) ?? 0) + t);
  }
  const top = (m: Map<string, number>, k: number): string =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([n, t]) => `  ${((t / total) * 100).toFixed(1).padStart(5)}%  ${n}`).join('\n');
  console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
  console.log(' by function:\n' + top(byFn, 18));
  console.log(' by file or module:\n' + top(byFile, 12));
}
