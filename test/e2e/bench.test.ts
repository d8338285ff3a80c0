// CI runs a tiny bench so the harness never rots: it must start its cluster,
// load it, check every GET body, and write its results. No thresholds: speed
// is measured by `npm run bench` on a quiet machine, not in tests.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/cluster.js';

const run = promisify(execFile);

t.test('npm run bench --quick works end to end', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'ringstore-bench-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const { stdout } = await run(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'bench', 'run.ts'), '--quick', '--out', out], { cwd: ROOT, timeout: 180_000 });
  t.match(stdout, /PUT 1 KiB/);
  t.match(stdout, /GET 64 KiB/);
  t.match(stdout, /peak RSS/);
  t.match(stdout, /the store as it grows/);
  t.match(stdout, /^1000 +\d+/m, 'a growth row for 1000 files');
  const files = readdirSync(out);
  t.equal(files.length, 1, 'one results file');
  const result = JSON.parse(readFileSync(join(out, files[0] as string), 'utf8'));
  t.equal(result.phases.length, 8, '2 sizes x 2 concurrencies x PUT and GET');
  for (const p of result.phases) t.equal(p.errors + p.mismatches, 0, `${p.op} ${p.size} c${p.concurrency}: no errors, every body checked`);
  t.ok(result.commit && result.machine.cpus > 0);
  t.equal(result.growth.length, 1);
  t.ok(result.growth[0].pageP99Ms > 0 && result.growth[0].bytesPerFile > 1024);
  const micro = await run(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'bench', 'micro.ts'), '--quick'], { cwd: ROOT, timeout: 60_000 });
  t.match(micro.stdout, /DVV sync/);
  const locks = await run(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'bench', 'locks.ts'), '--quick'], { cwd: ROOT, timeout: 120_000 });
  t.match(locks.stdout, /grant, uncontended +n= +10 /);
  t.match(locks.stdout, /grant with 4 contenders/);
  t.match(locks.stdout, /0 failed requests/);
});
