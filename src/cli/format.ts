// Human-readable output of the CLI: small aligned tables, one line per fact.
const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i] as number))).join('  ');
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

export function bucketTable(buckets: Array<{ name: string; created: string }>): string {
  if (buckets.length === 0) return 'no buckets\n';
  return table(['CREATED', 'BUCKET'], buckets.map((b) => [b.created, b.name]));
}

/** One page of a bucket's files (and common prefixes) as rows of fixed width, so pages line up; the header with the first. */
export function fileRows(files: Array<{ name: string; size: number; siblings: number; last_modified: string }>, prefixes: readonly string[], header: boolean): string {
  const row = (size: string, versions: string, modified: string, name: string): string => `${pad(size, 12)}  ${pad(versions, 8)}  ${pad(modified, 24)}  ${name}\n`;
  const items = [...files.map((f) => ({ name: f.name, line: row(String(f.size), String(f.siblings), f.last_modified, f.name) })), ...prefixes.map((p) => ({ name: p, line: row('PRE', '', '', p) }))];
  items.sort((a, b) => (Buffer.compare(Buffer.from(a.name), Buffer.from(b.name))));
  return (header ? row('SIZE', 'VERSIONS', 'MODIFIED', 'NAME') : '') + items.map((i) => i.line).join('');
}

export function siblingTable(what: string, siblings: Array<{ version: string; size: number; last_modified: string; deleted: boolean }>, bucket: string, file: string): string {
  return (
    `${what} has ${siblings.length} concurrent versions (siblings):\n` +
    table(['VERSION', 'SIZE', 'MODIFIED', ''], siblings.map((s) => [s.version, String(s.size), s.last_modified, s.deleted ? '(deleted)' : ''])) +
    `resolve with: ringstore resolve ${bucket} ${file} --keep <version>   (or --from <merged local file>)\n`
  );
}

export function writeSummary(what: string, body: any): string {
  const lines = [`${what}: version ${body.version} on ${body.replicas_written.join(', ')} (coordinator ${body.coordinator})`];
  if (body.down_system_data?.length) lines.push(`  down: ${body.down_system_data.join(', ')}`);
  for (const h of body.hinted_system_data ?? []) lines.push(`  hinted copy on ${h.node} for ${h.for}`);
  return lines.join('\n');
}

export function statusTable(body: any, endpoint: string): string {
  return (
    `N=${body.n} R=${body.r} W=${body.w}   (as seen by ${body.coordinator} at ${endpoint}, from ${body.status_from})\n` +
    (body.epoch !== undefined ? `epoch ${body.epoch}, ${body.settled ? 'settled' : 'partitions moving'}; transfers here: ${body.transfers.pending} pending, ${body.transfers.done} done, ${body.transfers.bytes} bytes\n` : '') +
    table(
      ['NODE', 'SOCKET', 'REST', 'STATUS', 'DISK', 'PARTITIONS', 'ROLE'],
      body.nodes.map((n: any) => [n.id, `${n.host}:${n.port}`, `${n.host}:${n.restPort}`, n.status, diskText(n.disk), String(n.partitions ?? '-'), n.role ?? 'member']),
    )
  );
}

/** A node's disk as /cluster reports it: its state, and the space free. */
function diskText(disk: { state: string; free_bytes: number | null } | undefined): string {
  if (!disk) return '-';
  return disk.free_bytes === null ? disk.state : `${disk.state}, ${(disk.free_bytes / 2 ** 20).toFixed(disk.free_bytes < 2 ** 30 ? 1 : 0)} MiB free`;
}
