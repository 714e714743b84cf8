import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionContextFromExport } from '../../lambdas/argocd/connection-config.js';
import { repoCredentialsOf, toGitCredentials } from '../../lambdas/argocd/repo-credentials.js';
import type { GitConnectionContext, GitCredentials } from '../../lambdas/git/credentials.js';
import { mirrorRepo, type MirrorResult } from '../../lambdas/git/mirror.js';
import { parseSidecar } from '../../lambdas/git/sidecar.js';
import { openStore } from '../../lambdas/store/open-store.js';
import { git, removeTempDirs, tempDir } from '../../demo/git.js';
import { startGitHttpServer, type GitHttpServer } from '../../demo/git-http/git-http-server.js';
import { createRichRepo, createSha256Repo } from '../../demo/origin-repos.js';
import { generateSshKey, startSshGitServer, type SshGitServer } from '../../demo/ssh/sshd.js';
import { expectBundleMatchesOrigin } from '../support/bundle-oracle.js';

let root: string;
let origin: string;
let http: GitHttpServer;
let v2: SshGitServer;
let v0: SshGitServer;
let key: { privateKey: string; publicKey: string };
let otherKey: { privateKey: string; publicKey: string };

beforeAll(async () => {
  root = await tempDir('ssh-origins');
  origin = await createRichRepo(root, 'org/rich.git');
  await createSha256Repo(root, 'org/sha256.git');
  key = await generateSshKey('ed25519');
  otherKey = await generateSshKey('rsa', 'pem');
  http = await startGitHttpServer({ root });
  v2 = await startSshGitServer({ root, authorizedKeys: [key.publicKey] });
  v0 = await startSshGitServer({ root, authorizedKeys: [key.publicKey], protocol: 'v0', hostKeyType: 'ecdsa' });
}, 60_000);

afterAll(async () => {
  await Promise.all([http?.close(), v2?.close(), v0?.close()]);
  await removeTempDirs();
});

async function mirrorInto(url: string, credentials?: GitCredentials, context?: GitConnectionContext) {
  const dir = await tempDir('store');
  const result = await mirrorRepo(url, { store: openStore(dir), idleTimeoutMs: 20_000, ...(credentials ? { credentials } : {}), ...(context ? { context } : {}) });
  return { dir, result };
}

/** Every planted secret form that must never show: the key, and each line of its body. */
function expectNoKey(text: string): void {
  for (const secret of [key.privateKey, otherKey.privateKey]) {
    expect(text).not.toContain(secret.trim());
    for (const line of secret.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) expect(text).not.toContain(line);
  }
}

describe.each([
  ['protocol v2', () => v2, 2],
  ['protocol v0 (sshd without AcceptEnv GIT_PROTOCOL)', () => v0, 0],
] as const)('mirror over SSH, %s', (_name, server, protocol) => {
  it('writes the same bundle, byte for byte, as over HTTPS, under the same store key', async () => {
    const context = { knownHosts: server().knownHostsLine };
    const ssh = await mirrorInto(server().url('org/rich.git'), { sshPrivateKey: key.privateKey }, context);
    expect(ssh.result).toMatchObject({ status: 'mirrored', bundle: 'git/127.0.0.1:' + server().port + '/org/rich.bundle' });
    const viaHttp = await mirrorInto(`${http.url}/org/rich.git`);
    expect(viaHttp.result.status).toBe('mirrored');
    const sshBundle = await readFile(path.join(ssh.dir, ssh.result.bundle!));
    const httpBundle = await readFile(path.join(viaHttp.dir, viaHttp.result.bundle!));
    expect(sshBundle.equals(httpBundle)).toBe(true);
    await expectBundleMatchesOrigin(path.join(ssh.dir, ssh.result.bundle!), origin);
    const sidecar = parseSidecar(await readFile(path.join(ssh.dir, ssh.result.bundle!.replace(/\.bundle$/, '.json')), 'utf8'))!;
    expect(sidecar).toMatchObject({ protocol, url: server().url('org/rich.git'), status: 'mirrored' });
    // The client always asks for v2; only the server that accepts the variable passes it to git.
    expect((await server().commands()).at(-1)).toBe(`git-upload-pack '/org/rich.git'\t${protocol === 2 ? 'version=2' : ''}`);
  });

  it('reports an unchanged repository after one ref listing, on a second run', async () => {
    const dir = await tempDir('store');
    const options = { store: openStore(dir), credentials: { sshPrivateKey: key.privateKey }, context: { knownHosts: server().knownHostsLine } };
    expect((await mirrorRepo(server().url('org/sha256.git'), options)).status).toBe('mirrored');
    expect((await mirrorRepo(server().url('org/sha256.git'), options)).status).toBe('unchanged');
  });
});

describe('SSH failures, each with its own message', () => {
  const fail = async (url: string, credentials: GitCredentials | undefined, context?: GitConnectionContext): Promise<MirrorResult> => {
    const { result } = await mirrorInto(url, credentials, context);
    expect(result.status).toBe('failed');
    expectNoKey(JSON.stringify(result));
    return result;
  };

  it('a key the server does not know', async () => {
    const result = await fail(v2.url('org/rich.git'), { sshPrivateKey: otherKey.privateKey }, { knownHosts: v2.knownHostsLine });
    expect(result.error).toMatch(/refused the SSH key for user \S+; check that its public key is a deploy key/);
  });

  it('no key at all', async () => {
    const result = await fail(v2.url('org/rich.git'), undefined, { knownHosts: v2.knownHostsLine });
    expect(result.error).toMatch(/wants an SSH key and none was given; add sshPrivateKey/);
  });

  it('a key that is not a key', async () => {
    const result = await fail(v2.url('org/rich.git'), { sshPrivateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${'PLANTEDnotAkey0123456789'.repeat(3)}\n-----END OPENSSH PRIVATE KEY-----\n` }, { knownHosts: v2.knownHostsLine });
    expect(result.error).toMatch(/sshPrivateKey is not a private key that can be used/);
    expect(result.error).not.toContain('PLANTEDnotAkey');
  });

  it('an unknown host key: no known hosts entry for the host and port', async () => {
    // github.com's entry does not vouch for 127.0.0.1; neither does the right key under port 22.
    const knownHosts = `github.com ${v2.hostKey}\n127.0.0.1 ${v2.hostKey}\n`;
    const result = await fail(v2.url('org/rich.git'), { sshPrivateKey: key.privateKey }, { knownHosts });
    expect(result.error).toMatch(/SSH host key of \[127\.0\.0\.1\]:\d+ is unknown; add the server's public host key to argocd-ssh-known-hosts-cm/);
    expect(await fail(v2.url('org/rich.git'), { sshPrivateKey: key.privateKey })).toMatchObject({ error: expect.stringMatching(/is unknown/) });
  });

  it('a changed host key: known hosts lists another key for this host', async () => {
    const impostor = await generateSshKey('ed25519');
    const result = await fail(v2.url('org/rich.git'), { sshPrivateKey: key.privateKey }, { knownHosts: `[127.0.0.1]:${v2.port} ${impostor.publicKey}\n` });
    expect(result.error).toMatch(/SSH host key of \[127\.0\.0\.1\]:\d+ has CHANGED/);
  });

  it('a revoked host key', async () => {
    const knownHosts = `${v2.knownHostsLine}\n@revoked * ${v2.hostKey}\n`;
    const result = await fail(v2.url('org/rich.git'), { sshPrivateKey: key.privateKey }, { knownHosts });
    expect(result.error).toMatch(/marked @revoked/);
  });

  it('connection refused', async () => {
    const result = await fail('ssh://git@127.0.0.1:1/org/rich.git', { sshPrivateKey: key.privateKey });
    expect(result.error).toMatch(/connection refused by \[127\.0\.0\.1\]:1; check the host and port/);
  });

  it('a server that accepts the connection but never speaks SSH: a timeout', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const result = await mirrorRepo(`ssh://git@127.0.0.1:${port}/org/rich.git`, {
        store: openStore(await tempDir('store')), credentials: { sshPrivateKey: key.privateKey }, idleTimeoutMs: 1000,
      });
      expect(result).toMatchObject({ status: 'failed', error: expect.stringMatching(/no SSH handshake from \[127\.0\.0\.1\]:\d+ within 1 s; check the host, port and firewall/) });
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('a server that stops sending mid-fetch: a timeout that fails the repo, and the earlier bundle stays', async () => {
    const stalling = await createRichRepo(root, 'org/stalling.git');
    const dir = await tempDir('store');
    const options = { store: openStore(dir), credentials: { sshPrivateKey: key.privateKey }, context: { knownHosts: v2.knownHostsLine }, idleTimeoutMs: 1500 };
    const first = await mirrorRepo(v2.url('org/stalling.git'), options);
    expect(first.status).toBe('mirrored');
    const before = await readFile(path.join(dir, first.bundle!));

    // A new commit, so the next run has to fetch; the server then goes quiet halfway through its answer.
    const tree = (await git(['rev-parse', 'main^{tree}'], { cwd: stalling })).trim();
    const commit = (await git(['commit-tree', tree, '-p', 'main', '-m', 'after the backup'], { cwd: stalling })).trim();
    await git(['update-ref', 'refs/heads/main', commit], { cwd: stalling });
    await v2.stall(Math.floor(before.length / 2));
    let second: MirrorResult;
    try {
      second = await mirrorRepo(v2.url('org/stalling.git'), options);
    } finally {
      await v2.stall(undefined);
    }
    expect(second).toMatchObject({ status: 'failed', error: expect.stringMatching(/no data from the server for 2 s; it may be overloaded or stalled — retry later or raise --timeout/) });
    expect(await readFile(path.join(dir, first.bundle!))).toEqual(before);
    expectNoKey(JSON.stringify(second));
  });

  it('a repository the server does not have: git-upload-pack\'s own words', async () => {
    const result = await fail(v2.url('org/missing.git'), { sshPrivateKey: key.privateKey }, { knownHosts: v2.knownHostsLine });
    expect(result.error).toMatch(/git-upload-pack on the server failed \(exit \d+\).*(not appear to be a git repository|not a git repository)/);
  });
});

describe('host keys', () => {
  it('insecureIgnoreHostKey accepts any host key, only when set', async () => {
    const { result } = await mirrorInto(v2.url('org/rich.git'), { sshPrivateKey: key.privateKey, insecureIgnoreHostKey: true });
    expect(result.status).toBe('mirrored');
    const refused = await mirrorInto(v2.url('org/rich.git'), { sshPrivateKey: key.privateKey, insecureIgnoreHostKey: false });
    expect(refused.result.error).toMatch(/is unknown/);
  });

  it('a repository Secret with only insecure: "true" accepts an unknown host key, as Argo CD (one flag); @revoked is still refused', async () => {
    const secret = {
      apiVersion: 'v1', kind: 'Secret', metadata: { name: 'ssh-insecure', namespace: 'argocd', labels: { 'argocd.argoproj.io/secret-type': 'repository' } },
      stringData: { url: v2.url('org/rich.git'), sshPrivateKey: key.privateKey, insecure: 'true' },
    };
    const credentials = toGitCredentials(repoCredentialsOf([secret])[0]);
    const { result } = await mirrorInto(v2.url('org/rich.git'), credentials);
    expect(result.status).toBe('mirrored');
    const revoked = await mirrorInto(v2.url('org/rich.git'), credentials, { knownHosts: `@revoked * ${v2.hostKey}\n` });
    expect(revoked.result.error).toMatch(/marked @revoked/);
  });

  it('reads hashed known hosts entries (ssh-keygen -H)', async () => {
    const dir = await tempDir('known');
    const file = path.join(dir, 'known_hosts');
    await writeFile(file, `${v0.knownHostsLine}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    const hashed = await readFile(file, 'utf8');
    expect(hashed).toMatch(/^\|1\|/);
    expect(hashed).not.toContain('127.0.0.1');
    const { result } = await mirrorInto(v0.url('org/rich.git'), { sshPrivateKey: key.privateKey }, { knownHosts: hashed });
    expect(result.status).toBe('mirrored');
  });

  it('takes known hosts from an exported argocd-ssh-known-hosts-cm', async () => {
    const exportYaml = [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'argocd-cm', namespace: 'argocd' }, data: { url: 'https://argocd.example.com' } },
      {
        apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'argocd-ssh-known-hosts-cm', namespace: 'argocd' },
        data: { ssh_known_hosts: `# Argo CD's defaults and ours\ngithub.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n${v2.knownHostsLine}\n` },
      },
    ].map((object) => `---\n${stringify(object)}`).join('');
    const context = connectionContextFromExport(exportYaml);
    expect(context.knownHosts).toContain(v2.hostKey);
    const { result } = await mirrorInto(v2.url('org/rich.git'), { sshPrivateKey: key.privateKey }, context);
    expect(result.status).toBe('mirrored');
  });
});
