import { BlockList, isIP } from 'node:net';
import type { GitCredentials } from './credentials.js';

/**
 * The proxy a request to `target` goes through, as Argo CD's repo-server picks it: the repository's
 * own `proxy` (bypassed for hosts in its `noProxy`), else HTTPS_PROXY / HTTP_PROXY (bypassed for
 * NO_PROXY). Both go through Go's httpproxy rules, which never proxy localhost or a loopback address.
 */
export function proxyFor(target: URL, credentials?: GitCredentials, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  const own = credentials?.proxy || undefined;
  const proxy = own ?? (target.protocol === 'https:' ? env.HTTPS_PROXY ?? env.https_proxy : env.HTTP_PROXY ?? env.http_proxy);
  const noProxy = own ? credentials?.noProxy : env.NO_PROXY ?? env.no_proxy;
  if (!proxy || isLoopback(target.hostname) || bypasses(target, noProxy)) return undefined;
  return proxyUrl(proxy);
}

export class ProxyConfigError extends Error {}

function proxyUrl(text: string): URL {
  try {
    const url = new URL(text.includes('://') ? text : `http://${text}`);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    return url;
  } catch {
    // The proxy URL may hold a password: name the setting, not its value.
    throw new ProxyConfigError('the proxy setting is not an http:// or https:// URL; fix the repository\'s proxy field (or HTTPS_PROXY)');
  }
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || /^127\./.test(host) || host === '::1';
}

/**
 * Go's NO_PROXY rules: `*` matches everything; an IP or CIDR matches addresses; `example.com`
 * matches it and its subdomains; `.example.com` only subdomains; `host:port` only that port.
 */
export function bypasses(target: URL, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = target.port || (target.protocol === 'https:' ? '443' : '80');
  for (const raw of noProxy.split(',')) {
    let entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    if (entry.includes('/')) {
      const [address, bits] = entry.split('/') as [string, string];
      const family = isIP(address);
      if (family && isIP(host) === family) {
        const list = new BlockList();
        list.addSubnet(address, Number(bits), family === 4 ? 'ipv4' : 'ipv6');
        if (list.check(host, family === 4 ? 'ipv4' : 'ipv6')) return true;
      }
      continue;
    }
    let entryPort: string | undefined;
    const portMatch = /^(.*[^:]):(\d+)$/.exec(entry);
    if (portMatch && isIP(entry) !== 6) {
      entry = portMatch[1]!;
      entryPort = portMatch[2];
    }
    entry = entry.replace(/^\[|\]$/g, '');
    if (entryPort && entryPort !== port) continue;
    if (isIP(entry)) {
      if (entry === host) return true;
      continue;
    }
    if (entry.startsWith('*.')) entry = entry.slice(1);
    if (entry.startsWith('.') ? host.endsWith(entry) : host === entry || host.endsWith(`.${entry}`)) return true;
  }
  return false;
}
