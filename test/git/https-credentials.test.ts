import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionContextFromExport } from '../../lambdas/argocd/connection-config.js';
import type { GitConnectionContext, GitCredentials } from '../../lambdas/git/credentials.js';
import { mirrorRepo } from '../../lambdas/git/mirror.js';
import { bypasses, proxyFor } from '../../lambdas/git/proxy.js';
import { openStore } from '../../lambdas/store/open-store.js';
import { removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import { issueCertificate, type IssuedCertificate } from '../../demo/git-http/test-certificates.js';
import { createRichRepo } from '../../demo/origin-repos.js';
import { startForwardProxy } from '../support/forward-proxy.js';

const PLANTED_BEARER = 'PLANTED-bearer-token-7f3a9c1e5b';
const PLANTED_PAT = 'PLANTED-azure-pat-0c2d8e6a41';

let root: string;
let plain: GitHttpServer;
let privateCa: GitHttpServer;
let mutualTls: GitHttpServer;
let bearer: GitHttpServer;
let basic: GitHttpServer;
let server: IssuedCertificate;
let client: IssuedCertificate;
let stranger: IssuedCertificate;

beforeAll(async () => {
  root = await tempDir('https-origins');
  await createRichRepo(root, 'org/rich.git');
  [server, client, stranger] = await Promise.all([issueCertificate('server'), issueCertificate('client'), issueCertificate('client')]);
  plain = await startGitHttpServer({ root });
  privateCa = await startGitHttpServer({ root, tls: server });
  mutualTls = await startGitHttpServer({ root, tls: { ...server, clientCaPem: client.caPem } });
  bearer = await startGitHttpServer({ root, bearerToken: PLANTED_BEARER });
  basic = await startGitHttpServer({ root, auth: { username: 'myorg', password: PLANTED_PAT } });
}, 60_000);

afterAll(async () => {
  await Promise.all([plain?.close(), privateCa?.close(), mutualTls?.close(), bearer?.close(), basic?.close()]);
  await removeTempDirs();
});

async function mirror(url: string, credentials?: GitCredentials, context?: GitConnectionContext) {
  const dir = await tempDir('store');
  const result = await mirrorRepo(url, { store: openStore(dir), idleTimeoutMs: 20_000, ...(credentials ? { credentials } : {}), ...(context ? { context } : {}) });
  const bundle = result.bundle ? await readFile(path.join(dir, result.bundle)) : undefined;
  return { result, bundle };
}

let reference: Buffer | undefined;
async function referenceBundle(): Promise<Buffer> {
  reference ??= (await mirror(`${plain.url}/org/rich.git`)).bundle!;
  return reference;
}

/** The key and every line of its body: none may show in a result. */
function expectAbsent(text: string, ...secrets: string[]): void {
  for (const secret of secrets) {
    expect(text).not.toContain(secret.trim());
    for (const line of secret.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) expect(text).not.toContain(line);
  }
}

describe('a server whose certificate a private CA signed', () => {
  it('fails without the CA, saying where to add it', async () => {
    const { result } = await mirror(`${privateCa.url}/org/rich.git`);
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/TLS failure talking to 127\.0\.0\.1:\d+: .*add the CA that signed the server's certificate to argocd-tls-certs-cm under the host name 127\.0\.0\.1/);
  });

  it('mirrors with the CA from argocd-tls-certs-cm, the same bundle as over plain HTTP', async () => {
    const { result, bundle } = await mirror(`${privateCa.url}/org/rich.git`, undefined, { tlsCerts: { '127.0.0.1': server.caPem } });
    expect(result.status).toBe('mirrored');
    expect(bundle!.equals(await referenceBundle())).toBe(true);
  });

  it('takes that CA from an exported argocd-tls-certs-cm, keyed by host name without port', async () => {
    const exportYaml = `---\n${stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'argocd-tls-certs-cm', namespace: 'argocd' }, data: { '127.0.0.1': server.caPem } })}`;
    const context = connectionContextFromExport(exportYaml);
    expect((await mirror(`${privateCa.url}/org/rich.git`, undefined, context)).result.status).toBe('mirrored');
  });

  it('a CA for another host does not help', async () => {
    const { result } = await mirror(`${privateCa.url}/org/rich.git`, undefined, { tlsCerts: { 'git.example.com': server.caPem } });
    expect(result.error).toMatch(/TLS failure/);
  });

  it('skips verification only when insecure is set', async () => {
    expect((await mirror(`${privateCa.url}/org/rich.git`, { insecure: true })).result.status).toBe('mirrored');
    expect((await mirror(`${privateCa.url}/org/rich.git`, { insecure: false })).result.status).toBe('failed');
  });
});

describe('a server that requires a client certificate', () => {
  const context = () => ({ tlsCerts: { '127.0.0.1': server.caPem } });

  it('mirrors with tlsClientCertData / tlsClientCertKey', async () => {
    const { result, bundle } = await mirror(`${mutualTls.url}/org/rich.git`, { tlsClientCertData: client.certPem, tlsClientCertKey: client.keyPem }, context());
    expect(result.status).toBe('mirrored');
    expect(bundle!.equals(await referenceBundle())).toBe(true);
  });

  it('says a certificate is needed when none is sent', async () => {
    const { result } = await mirror(`${mutualTls.url}/org/rich.git`, undefined, context());
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/the server asks for a client certificate \(tlsv13 alert certificate required\); set tlsClientCertData and tlsClientCertKey/);
  });

  it('says the certificate was refused when the server does not trust it, without quoting the key', async () => {
    const { result } = await mirror(`${mutualTls.url}/org/rich.git`, { tlsClientCertData: stranger.certPem, tlsClientCertKey: stranger.keyPem }, context());
    expect(result.status).toBe('failed');
    expect(result.error).toMatch(/refused the client certificate/);
    expectAbsent(JSON.stringify(result), stranger.keyPem, client.keyPem);
  });

  it('says when certificate and key do not belong together', async () => {
    const { result } = await mirror(`${mutualTls.url}/org/rich.git`, { tlsClientCertData: client.certPem, tlsClientCertKey: stranger.keyPem }, context());
    expect(result.error).toMatch(/certificate and key do not belong together/);
    expectAbsent(JSON.stringify(result), stranger.keyPem);
  });
});

describe('bearer tokens', () => {
  it('sends Authorization: Bearer', async () => {
    const { result } = await mirror(`${bearer.url}/org/rich.git`, { bearerToken: PLANTED_BEARER });
    expect(result.status).toBe('mirrored');
  });

  it('a wrong token is rejected, and no token is quoted', async () => {
    const wrong = `${PLANTED_BEARER}-expired`;
    const { result } = await mirror(`${bearer.url}/org/rich.git`, { bearerToken: wrong });
    expect(result.error).toMatch(/401.*rejected the credentials \(a bearer token\)/);
    expectAbsent(JSON.stringify(result), wrong, Buffer.from(wrong).toString('base64'));
  });
});

describe('a URL with a user name only', () => {
  const userUrl = () => basic.url.replace('://', '://myorg@') + '/org/rich.git';

  it('keeps the given credentials: the URL\'s user name replaces none of them', async () => {
    const { result } = await mirror(userUrl(), { username: 'myorg', password: PLANTED_PAT });
    expect(result).toMatchObject({ status: 'mirrored', url: `${basic.url}/org/rich.git` });
  });

  it('fills in the user name the credentials lack', async () => {
    const { result } = await mirror(userUrl(), { password: PLANTED_PAT });
    expect(result.status).toBe('mirrored');
  });

  it('a URL\'s own user:password still wins', async () => {
    const { result } = await mirror(basic.url.replace('://', `://myorg:${PLANTED_PAT}@`) + '/org/rich.git', { username: 'someone', password: 'wrong' });
    expect(result.status).toBe('mirrored');
    expectAbsent(JSON.stringify(result), PLANTED_PAT);
  });
});

describe('proxies', () => {
  // git.test resolves only at the proxy: a request that went around it could not reach the server.
  const behindProxy = (server: GitHttpServer) => server.url.replace('127.0.0.1', 'git.test');
  const startProxy = () => startForwardProxy({ resolve: { 'git.test': '127.0.0.1' } });

  it('tunnels https through the repository\'s proxy, unless noProxy names the host', async () => {
    const proxy = await startProxy();
    try {
      const url = `${behindProxy(privateCa)}/org/rich.git`;
      const context = { tlsCerts: { 'git.test': server.caPem } };
      const { result, bundle } = await mirror(url, { proxy: proxy.url }, context);
      expect(result.status).toBe('mirrored');
      expect(bundle!.equals(await referenceBundle())).toBe(true);
      expect(proxy.seen).toContain(`CONNECT git.test:${new URL(privateCa.url).port}`);

      proxy.seen.length = 0;
      const direct = await mirror(url, { proxy: proxy.url, noProxy: 'git.example.com,.test' }, context);
      expect(proxy.seen).toEqual([]);
      expect(direct.result).toMatchObject({ status: 'failed', error: expect.stringMatching(/host git\.test:\d+ could not be resolved/) });
    } finally {
      await proxy.close();
    }
  });

  it('sends plain http through the proxy with absolute URIs', async () => {
    const proxy = await startProxy();
    try {
      const url = `${behindProxy(plain)}/org/rich.git`;
      const { result } = await mirror(url, { proxy: proxy.url });
      expect(result.status).toBe('mirrored');
      expect(proxy.seen.some((line) => line.startsWith(`GET ${url}/info/refs`))).toBe(true);
      expect(proxy.seen.some((line) => line.startsWith(`POST ${url}/git-upload-pack`))).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('never sends a loopback address through the repository\'s proxy, as Argo CD', async () => {
    const proxy = await startProxy();
    try {
      const { result } = await mirror(`${plain.url}/org/rich.git`, { proxy: proxy.url });
      expect(result.status).toBe('mirrored');
      expect(proxy.seen).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('a proxy that is down fails the repo with a message about the connection', async () => {
    const { result } = await mirror(`${behindProxy(plain)}/org/rich.git`, { proxy: 'http://127.0.0.1:1' });
    expect(result).toMatchObject({ status: 'failed', error: expect.stringMatching(/connection refused/) });
  });

  it('follows Go\'s rules for HTTPS_PROXY / NO_PROXY as Argo CD does', () => {
    const env = { HTTPS_PROXY: 'proxy.corp:3128', NO_PROXY: '.internal.example,10.0.0.0/8,git.example.com:8443' };
    expect(proxyFor(new URL('https://github.com/org/repo'), undefined, env)?.href).toBe('http://proxy.corp:3128/');
    expect(proxyFor(new URL('http://github.com/org/repo'), undefined, env)).toBeUndefined();
    expect(proxyFor(new URL('https://a.internal.example/x'), undefined, env)).toBeUndefined();
    expect(proxyFor(new URL('https://10.1.2.3/x'), undefined, env)).toBeUndefined();
    expect(proxyFor(new URL('https://git.example.com:8443/x'), undefined, env)).toBeUndefined();
    expect(proxyFor(new URL('https://git.example.com/x'), undefined, env)).toBeDefined();
    // Loopback is never proxied from the environment (Go's ProxyFromEnvironment).
    expect(proxyFor(new URL('https://127.0.0.1:8443/x'), undefined, env)).toBeUndefined();
    // The repository's own proxy wins over the environment; it too is never used for loopback.
    expect(proxyFor(new URL('https://github.com/x'), { proxy: 'http://repo-proxy:8080' }, env)?.host).toBe('repo-proxy:8080');
    expect(proxyFor(new URL('https://localhost:8443/x'), { proxy: 'http://repo-proxy:8080' }, env)).toBeUndefined();
    expect(proxyFor(new URL('https://[::1]:8443/x'), { proxy: 'http://repo-proxy:8080' }, env)).toBeUndefined();
    expect(bypasses(new URL('https://sub.example.com/x'), 'example.com')).toBe(true);
    expect(bypasses(new URL('https://example.com/x'), '.example.com')).toBe(false);
    expect(bypasses(new URL('https://anything/x'), '*')).toBe(true);
    expect(() => proxyFor(new URL('https://github.com/x'), { proxy: 'socks5://user:PLANTEDpw@p:1080' })).toThrow(/not an http:\/\/ or https:\/\/ URL/);
  });
});
