import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bundleHeader } from '../../lambdas/git/bundle-header.js';
import { PackChecker } from '../../lambdas/git/pack-checker.js';
import { PktLineReader, pktLine } from '../../lambdas/git/pkt-line.js';
import { refPatternProblem, selectRefs } from '../../lambdas/git/ref-advertisement.js';
import { parseRepoUrl, redactUserInfo, repoStoreKeys } from '../../lambdas/git/repo-url.js';

/** A syntactically valid pack: header, some entry bytes, trailer over both. */
function pack(objects: number, body = Buffer.from('entries')): Buffer {
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(objects, 8);
  const content = Buffer.concat([header, body]);
  return Buffer.concat([content, createHash('sha1').update(content).digest()]);
}

function feed(checker: PackChecker, bytes: Buffer, chunkSize: number): void {
  for (let offset = 0; offset < bytes.length; offset += chunkSize) checker.update(bytes.subarray(offset, offset + chunkSize));
}

describe('PackChecker', () => {
  it.each([1, 3, 7, 20, 21, 1000])('accepts a whole pack fed in %i-byte chunks and reports its trailer', (chunkSize) => {
    const bytes = pack(5);
    const checker = new PackChecker('sha1');
    feed(checker, bytes, chunkSize);
    expect(checker.finish()).toEqual({ objects: 5, checksum: bytes.subarray(-20).toString('hex'), bytes: bytes.length });
  });

  it('rejects a truncated pack, a flipped byte, a bad signature and an unknown version', () => {
    const bytes = pack(2);
    const truncated = new PackChecker('sha1');
    feed(truncated, bytes.subarray(0, bytes.length - 1), 4);
    expect(() => truncated.finish()).toThrow(/trailing checksum/);

    const flipped = Buffer.from(bytes);
    flipped[14]! ^= 1;
    const checker = new PackChecker('sha1');
    feed(checker, flipped, 5);
    expect(() => checker.finish()).toThrow(/does not match/);

    expect(() => new PackChecker('sha1').update(Buffer.from('NOPE0000000000000000'))).toThrow(/not a pack/);
    const v9 = Buffer.from(bytes);
    v9.writeUInt32BE(9, 4);
    expect(() => new PackChecker('sha1').update(v9)).toThrow(/unsupported pack version 9/);
    const tiny = new PackChecker('sha1');
    tiny.update(Buffer.from('PACK'));
    expect(() => tiny.finish()).toThrow(/before its header and trailer were complete/);
  });

  it('uses a 32-byte SHA-256 trailer for SHA-256 repositories', () => {
    const header = Buffer.from('PACK\0\0\0\x02\0\0\0\x01', 'latin1');
    const content = Buffer.concat([header, Buffer.from('x')]);
    const bytes = Buffer.concat([content, createHash('sha256').update(content).digest()]);
    const checker = new PackChecker('sha256');
    feed(checker, bytes, 3);
    expect(checker.finish().checksum).toHaveLength(64);
  });
});

describe('PktLineReader', () => {
  it('reads packets split across any chunk boundaries, and special packets', async () => {
    const stream = Buffer.concat([pktLine('version 2\n'), Buffer.from('0001'), pktLine(Buffer.alloc(60000, 7)), Buffer.from('0000')]);
    for (const size of [1, 5, 4096, 100000]) {
      const chunks = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
      const reader = new PktLineReader((async function* () { yield* chunks; })());
      const kinds = [];
      for (let pkt = await reader.read(); pkt; pkt = await reader.read()) kinds.push(pkt.kind === 'data' ? pkt.data.length : pkt.kind);
      expect(kinds).toEqual([10, 'delim', 60000, 'flush']);
    }
  });

  it('names a malformed length and a stream cut inside a packet', async () => {
    const bad = new PktLineReader((async function* () { yield Buffer.from('zz01'); })());
    await expect(bad.read()).rejects.toThrow(/malformed pkt-line length "zz01"/);
    const cut = new PktLineReader((async function* () { yield Buffer.from('0010abc'); })());
    await expect(cut.read()).rejects.toThrow(/stream ended inside a pkt-line/);
  });
});

describe('ref selection', () => {
  const refs = new Map([
    ['HEAD', 'a'], ['refs/heads/main', 'a'], ['refs/heads/feature/x/y', 'b'], ['refs/tags/v1', 'c'],
    ['refs/pull/1/head', 'd'], ['refs/notes/commits', 'e'], ['refs/remotes/origin/main', 'f'],
  ]);

  it('takes HEAD, heads and tags by default, nested names included, and extra patterns on request', () => {
    expect([...selectRefs(refs, ['HEAD', 'refs/heads/*', 'refs/tags/*']).keys()]).toEqual(['HEAD', 'refs/heads/main', 'refs/heads/feature/x/y', 'refs/tags/v1']);
    expect([...selectRefs(refs, ['refs/pull/*', 'refs/notes/commits']).keys()]).toEqual(['refs/pull/1/head', 'refs/notes/commits']);
  });

  it('rejects patterns that are not ref names', () => {
    expect(refPatternProblem('refs/notes/*')).toBeUndefined();
    expect(refPatternProblem('heads/*')).toMatch(/must be HEAD or start with refs\//);
    expect(refPatternProblem('refs/a..b')).toMatch(/cannot have/);
  });
});

describe('bundle header', () => {
  it('sorts refs by bytes and writes HEAD last; v3 with object-format for SHA-256', () => {
    const refs = new Map([['HEAD', '1'.repeat(40)], ['refs/tags/v1', '2'.repeat(40)], ['refs/heads/Z', '3'.repeat(40)], ['refs/heads/a', '4'.repeat(40)]]);
    expect(bundleHeader(refs, 'sha1').toString()).toBe(
      `# v2 git bundle\n${'3'.repeat(40)} refs/heads/Z\n${'4'.repeat(40)} refs/heads/a\n${'2'.repeat(40)} refs/tags/v1\n${'1'.repeat(40)} HEAD\n\n`,
    );
    expect(bundleHeader(new Map([['refs/heads/main', 'f'.repeat(64)]]), 'sha256').toString()).toBe(
      `# v3 git bundle\n@object-format=sha256\n${'f'.repeat(64)} refs/heads/main\n\n`,
    );
  });
});

describe('repository URLs', () => {
  it('maps a URL to its store keys, without credentials, .git or trailing slashes', () => {
    const repo = parseRepoUrl('https://bot:s3cret@GitHub.com/argoproj/argo-cd.git/');
    expect(repo).toMatchObject({ display: 'https://github.com/argoproj/argo-cd.git', host: 'github.com', path: 'argoproj/argo-cd', credentials: { username: 'bot', password: 's3cret' } });
    expect(repoStoreKeys(repo)).toEqual({ bundle: 'git/github.com/argoproj/argo-cd.bundle', sidecar: 'git/github.com/argoproj/argo-cd.json' });
    expect(repoStoreKeys(parseRepoUrl('http://127.0.0.1:8080/a/b'))).toEqual({ bundle: 'git/127.0.0.1:8080/a/b.bundle', sidecar: 'git/127.0.0.1:8080/a/b.json' });
  });

  it('redacts user info up to the last @, as URL parsers split it', () => {
    expect(redactUserInfo('clone https://user:p@ss@github.com/org/repo failed')).toBe('clone https://github.com/org/repo failed');
    expect(redactUserInfo('https://a@b.example/x and https://c:d@e.example/y')).toBe('https://b.example/x and https://e.example/y');
    // An SSH login name is kept (it says which account); a password never is.
    expect(redactUserInfo('ssh://git@github.com/org/repo.git and ssh://deploy:pw@h.example/r')).toBe('ssh://git@github.com/org/repo.git and ssh://h.example/r');
  });

  it('gives an SSH URL, scp-style or ssh://, the store keys of the https URL of the same repository', () => {
    const https = repoStoreKeys(parseRepoUrl('https://github.com/org/repo.git'));
    for (const url of ['git@github.com:org/repo.git', 'ssh://git@github.com/org/repo.git', 'ssh://git@GitHub.com:22/org/repo', 'git@github.com:/org/repo.git/']) {
      expect(repoStoreKeys(parseRepoUrl(url)), url).toEqual(https);
    }
    expect(parseRepoUrl('git@github.com:org/repo.git').ssh).toEqual({ user: 'git', hostname: 'github.com', port: 22, path: 'org/repo.git' });
    expect(parseRepoUrl('ssh://deploy@127.0.0.1:2222/srv/org/repo.git')).toMatchObject({
      host: '127.0.0.1:2222', path: 'srv/org/repo', ssh: { user: 'deploy', hostname: '127.0.0.1', port: 2222, path: '/srv/org/repo.git' },
    });
    expect(parseRepoUrl('ssh://git@[::1]:2222/org/repo.git')).toMatchObject({ host: '[::1]:2222', ssh: { hostname: '::1', port: 2222 } });
    expect(parseRepoUrl('ssh://git@host/~alice/repo.git').ssh?.path).toBe('~alice/repo.git');
    expect(() => parseRepoUrl('ssh://git:hunter22@host/org/repo.git')).toThrow(/cannot carry a password/);
  });

  it('refuses what it cannot mirror, without echoing credentials', () => {
    expect(() => parseRepoUrl('git@github.com:')).toThrow(/is not a URL/);
    expect(() => parseRepoUrl('ssh://git@github.com/')).toThrow(/no usable repository path/);
    expect(() => parseRepoUrl('https://host/')).toThrow(/no usable repository path/);
    const message = (() => {
      try {
        parseRepoUrl('ftp://u:topsecret@host/r.git');
        return 'no error';
      } catch (error) {
        return String(error);
      }
    })();
    expect(message).toMatch(/unsupported scheme ftp; give an https:\/\/, http:\/\/, ssh:\/\/ or scp-style/);
    expect(message).not.toContain('topsecret');
  });
});
