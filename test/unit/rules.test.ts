// Rules a machine checks, by scanning src/:
// 1. One runtime: only src/runtime/ (the production implementations), the
//    processes' entry points (src/*/main.ts), the CLI and the scripts' helper
//    (src/tools/), and the simulator's runner and event loop (which drains
//    promise continuations between events) may read the clock, set timers,
//    draw random numbers or ids, or touch node:fs and node:net. Everything else
//    gets them from the injected Runtime, so the simulator can run it.
// 2. Dependencies point one way: protocol and runtime, then net, ring and
//    clock, storage, replica, then node, coordinator and cron (which never
//    import one another), then rest, the simulator and the clients.
import t from 'tap';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from '../helpers/cluster.js';

const SRC = join(ROOT, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const all = files(SRC).map((p) => ({ path: relative(SRC, p), text: readFileSync(p, 'utf8') }));

/** Code without comments and string contents, so a rule is not tripped by prose. */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
    .replace(/`(?:\\.|[^`\\])*`/g, '``');
}

const EXEMPT = [/^runtime\//, /^[^/]+\/main\.ts$/, /^cli\//, /^tools\//, /^sim\/main\.ts$/, /^sim\/loop\.ts$/];

const FORBIDDEN: Array<[string, RegExp]> = [
  ['Date.now()', /(?<![\w.])Date\.now\s*\(/],
  ['new Date() (the wall clock)', /new Date\(\s*\)/],
  ['performance.now()', /performance\.now\s*\(/],
  ['process.hrtime', /process\.hrtime/],
  ['setTimeout', /(?<![\w.])setTimeout\s*\(/],
  ['setInterval', /(?<![\w.])setInterval\s*\(/],
  ['setImmediate', /(?<![\w.])setImmediate\s*\(/],
  ['Math.random()', /Math\.random\s*\(/],
  ['random bytes from node:crypto', /import\s*\{[^}]*\b(randomBytes|randomUUID|randomInt|getRandomValues)\b[^}]*\}\s*from\s*'(node:)?crypto'/],
  ['uuid', /from\s*'uuid'/],
  ['node:fs', /from\s*'(node:)?fs(\/promises)?'/],
  ['node:net', /from\s*'(node:)?net'/],
  ['node:child_process', /from\s*'(node:)?child_process'/],
  ['node:perf_hooks', /from\s*'(node:)?perf_hooks'/],
];

t.test('only the runtime and the entry points touch the clock, timers, randomness, the disk and the network', async (t) => {
  const found: string[] = [];
  for (const f of all) {
    if (EXEMPT.some((re) => re.test(f.path))) continue;
    const c = code(f.text);
    for (const [what, re] of FORBIDDEN) if (re.test(c)) found.push(`src/${f.path}: ${what}`);
  }
  t.same(found, [], 'every other module takes them from its Runtime');
  t.ok(all.length > 50, `${all.length} files scanned`);
});

t.test('the rule scan catches what it forbids', async (t) => {
  const c = code("import { randomBytes } from 'node:crypto';\nconst a = Date.now(); // Date.now() in a comment\nsetTimeout(f, 1);\nrt.timers.setTimeout(f, 1);");
  const hits = FORBIDDEN.filter(([, re]) => re.test(c)).map(([w]) => w);
  t.same(hits, ['Date.now()', 'setTimeout', 'random bytes from node:crypto']);
});

/** The rank of a module: an import may only point at a lower rank, or at its own folder. */
function rank(path: string): { rank: number; group: string } {
  const top = path.includes('/') ? (path.split('/')[0] as string) : path;
  if (/^[^/]+\/main\.ts$/.test(path) || path === 'runtime/process.ts') return { rank: 9, group: 'entry' };
  const ranks: Record<string, number> = {
    'errors.ts': 0,
    'log.ts': 0,
    'config.ts': 0,
    protocol: 1,
    runtime: 1,
    net: 2,
    ring: 3,
    clock: 3,
    storage: 4,
    replica: 5,
    'node-env.ts': 5,
    node: 6,
    coordinator: 6,
    cron: 6,
    rest: 7,
    sim: 8,
    cli: 8,
    tools: 8,
  };
  const r = ranks[top];
  if (r === undefined) throw new Error(`src/${path}: no rank for ${top}; add it to the layering rule`);
  return { rank: r, group: top };
}

t.test('dependencies point one way', async (t) => {
  const bad: string[] = [];
  for (const f of all) {
    const from = rank(f.path);
    for (const m of f.text.matchAll(/^(?:import|export)[^'";]*?from\s*'(\.[^']+)'/gm)) {
      const target = relative(SRC, resolve(dirname(join(SRC, f.path)), (m[1] as string).replace(/\.js$/, '.ts')));
      const to = rank(target);
      if (to.group === from.group) continue;
      if (to.rank > from.rank) bad.push(`src/${f.path} imports src/${target} (a higher layer)`);
      else if (to.rank === from.rank && from.rank === 6) bad.push(`src/${f.path} imports src/${target} (node, coordinator and cron stay apart)`);
    }
  }
  t.same(bad, [], 'nothing lower imports anything higher');
});
