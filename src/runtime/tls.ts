// TLS on the socket port (issue 14): the same pipes as tcp.ts, over TLS
// sockets. Both ends show a certificate of the cluster's CA and check the
// other's (mutual TLS), so a client without one never gets past the TLS
// handshake; the cluster secret's handshake (net/auth.ts) still runs inside.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import tls from 'node:tls';
import type { ClusterConfig } from '../config.js';
import type { Network } from './network.js';
import { socketNetwork } from './tcp.js';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

/** A path of the config's tls section: `{id}` stands for the node id; relative paths are from the config's folder. */
function tlsPath(config: ClusterConfig, p: string, id: string): string {
  const named = p.replaceAll('{id}', id);
  return isAbsolute(named) ? named : resolve(dirname(config.file), named);
}

/** This node's certificate and key, and the cluster's CA; null when the config has no tls. */
export function readTlsFiles(config: ClusterConfig, id: string): TlsFiles | null {
  if (!config.tls) return null;
  const path = (p: string): string => tlsPath(config, p, id);
  return { cert: readFileSync(path(config.tls.certFile)), key: readFileSync(path(config.tls.keyFile)), ca: readFileSync(path(config.tls.caFile)) };
}

/** The cluster's CA alone (what a client checks REST ports against); null when the config has no tls. */
export function readTlsCa(config: ClusterConfig): Buffer | null {
  return config.tls ? readFileSync(tlsPath(config, config.tls.caFile, '')) : null;
}

export function tlsNetwork(files: TlsFiles, handshakeTimeoutMs: number): Network {
  return socketNetwork(
    (host, port) => tls.connect({ host, port, ca: files.ca, cert: files.cert, key: files.key, ...(isIP(host) ? {} : { servername: host }) }),
    (onSocket) => {
      const server = tls.createServer({ cert: files.cert, key: files.key, ca: files.ca, requestCert: true, rejectUnauthorized: true, handshakeTimeout: handshakeTimeoutMs }, onSocket);
      // A client that fails the TLS handshake (plain TCP, a certificate of another CA) is dropped, and changes nothing.
      server.on('tlsClientError', () => undefined);
      return server;
    },
  );
}
