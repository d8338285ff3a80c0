// The CLI's login (issue 14): `ringstore login` keeps the token in a file of
// mode 0600 (in a folder of mode 0700), and every later command sends it as
// Authorization: Bearer. --auth-token or $RINGSTORE_TOKEN override the file.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { CliError } from './client.js';

export interface Session {
  token: string;
  username: string;
  expires_at: string;
  /** The REST endpoints of the cluster that issued it: another cluster is not sent it. */
  endpoints: string[];
}

/** $XDG_CONFIG_HOME/ringstore/token.json, else ~/.config/ringstore/token.json. */
export function defaultTokenFile(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'ringstore', 'token.json');
}

export function readSession(file: string): Session | null {
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as Session;
    return typeof s.token === 'string' && Array.isArray(s.endpoints) ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(file: string, s: Session): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600); // whatever the umask said
  renameSync(tmp, file);
}

export function forgetSession(file: string): void {
  rmSync(file, { force: true });
}

/**
 * The password: --password, else $RINGSTORE_PASSWORD, else the first line of
 * standard input (prompted for, without echo, on a terminal).
 */
export async function readPassword(given: string | undefined, prompt: string): Promise<string> {
  if (given !== undefined) return given;
  if (process.env.RINGSTORE_PASSWORD !== undefined) return process.env.RINGSTORE_PASSWORD;
  const tty = process.stdin.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: tty ? process.stderr : undefined, terminal: tty });
  if (tty) {
    process.stderr.write(prompt);
    // Echo nothing of what is typed.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  }
  try {
    const line = await new Promise<string | null>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(null));
    });
    if (tty) process.stderr.write('\n');
    if (line === null) throw new CliError('no password: give --password, set RINGSTORE_PASSWORD, or type it', 2);
    return line;
  } finally {
    rl.close();
  }
}
