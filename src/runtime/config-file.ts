// Reading the cluster's config and secret from their files (and the
// environment): what every entry point and the CLI do first.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DEFAULT_CONFIG_FILE, defaultSecretFile, parseConfig, type ClusterConfig } from '../config.js';
import { ErrorCode, RingstoreError } from '../errors.js';

export function loadConfig(file: string = DEFAULT_CONFIG_FILE): ClusterConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new RingstoreError(ErrorCode.CONFIG, `cannot read config ${abs}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RingstoreError(ErrorCode.CONFIG, `config ${abs} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseConfig(raw, abs);
}

/**
 * The cluster secret that every socket connection must prove it knows. From
 * `secret`, the variable `secretEnv` names, `secretFile`, or the default file
 * beside the config. A node never runs without one.
 */
export function clusterSecret(config: ClusterConfig): Buffer {
  let text: string | undefined = config.secret;
  let from = 'secret';
  if (!text && config.secretEnv) {
    text = process.env[config.secretEnv];
    from = `$${config.secretEnv}`;
    if (!text) throw new RingstoreError(ErrorCode.CONFIG, `the config names ${from} for the cluster secret, but it is not set`);
  }
  if (!text) {
    const f = config.secretFile ? resolve(dirname(config.file), config.secretFile) : defaultSecretFile(config);
    from = f;
    try {
      text = readFileSync(f, 'utf8').trim();
    } catch {
      throw new RingstoreError(
        ErrorCode.CONFIG,
        `no cluster secret: ${f} does not exist. The start scripts create it; or set "secret", "secretEnv" or "secretFile" in ${config.file}`,
      );
    }
  }
  if (text.length < 16) throw new RingstoreError(ErrorCode.CONFIG, `the cluster secret from ${from} is shorter than 16 characters`);
  return Buffer.from(text, 'utf8');
}
