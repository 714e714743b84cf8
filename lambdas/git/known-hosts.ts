import { createHmac } from 'node:crypto';

/**
 * ssh_known_hosts as OpenSSH reads it (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): `[marker] hosts
 * keytype base64-key [comment]`, hosts a comma list of patterns (`*`, `?`, `!negation`,
 * `[host]:port` for ports other than 22) or one hashed `|1|salt|hmac` entry.
 */
export interface KnownHostKey {
  type: string;
  /** The public key blob, as the server sends it in the key exchange. */
  blob: Buffer;
}

export interface KnownKeys {
  /** Keys listed for the host (no markers). */
  keys: KnownHostKey[];
  /** Keys marked @revoked: never accepted, even if listed. */
  revoked: Buffer[];
}

/** The keys known_hosts lists for a host and port. @cert-authority lines are not used (no host certificates). */
export function knownKeysFor(knownHosts: string | undefined, hostname: string, port: number): KnownKeys {
  const keys: KnownHostKey[] = [];
  const revoked: Buffer[] = [];
  const name = port === 22 ? hostname.toLowerCase() : `[${hostname.toLowerCase()}]:${port}`;
  for (const raw of (knownHosts ?? '').split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]?.startsWith('@') ? fields.shift() : undefined;
    const [hosts, type, base64] = fields;
    if (!hosts || !type || !base64 || marker === '@cert-authority') continue;
    if (!hostsMatch(hosts, name)) continue;
    const blob = Buffer.from(base64, 'base64');
    if (marker === '@revoked') revoked.push(blob);
    else if (!marker) keys.push({ type, blob });
  }
  return { keys, revoked };
}

function hostsMatch(hosts: string, name: string): boolean {
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of hosts.toLowerCase().split(',')) {
    const negated = pattern.startsWith('!');
    if (!wildcard(negated ? pattern.slice(1) : pattern).test(name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function wildcard(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\[/g, '\\[').replace(/\]/g, '\\]').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

/** The host key algorithms that can present a key of this known_hosts key type. */
export function hostKeyAlgorithms(type: string): string[] {
  return type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
}
