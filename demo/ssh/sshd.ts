import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { tempDir } from '../git.js';

/**
 * A real OpenSSH server on loopback serving bare repositories through git-shell, as a Git host
 * does: `/usr/sbin/sshd -D` with its own host key, one authorized_keys file and a ForceCommand
 * that maps `/org/repo.git` and `org/repo.git` to <root>/org/repo.git. It logs in the user running
 * it (root here and in CI, allowed by key only), so no system account is needed.
 */
export interface SshGitServerOptions {
  /** Bare repositories under it are served as /<relative path> and <relative path>. */
  root: string;
  /** OpenSSH public key lines allowed to log in. */
  authorizedKeys: string[];
  /** 'v0' leaves GIT_PROTOCOL out of AcceptEnv, so git answers like a server without protocol v2. */
  protocol?: 'v2' | 'v0';
  /** Host key type; default ed25519. */
  hostKeyType?: 'ed25519' | 'ecdsa' | 'rsa';
}

export interface SshGitServer {
  port: number;
  /** The login user (the user running the server). */
  user: string;
  /** `ssh://<user>@127.0.0.1:<port>/<repoPath>` */
  url(repoPath: string): string;
  /** The server's public host key, `<type> <base64>`. */
  hostKey: string;
  /** A known_hosts line for this server (`[127.0.0.1]:<port> <type> <base64>`). */
  knownHostsLine: string;
  /** One line per command run: the command and the GIT_PROTOCOL it saw, tab-separated. */
  commands(): Promise<string[]>;
  /**
   * From the next command on, sends only the first `afterBytes` bytes of git's output and then
   * keeps the channel open without a word, as an overloaded host does; `undefined` serves normally.
   */
  stall(afterBytes: number | undefined): Promise<void>;
  close(): Promise<void>;
}

export const SSHD = '/usr/sbin/sshd';

/** Makes an unencrypted key pair with ssh-keygen (OpenSSH format; `pem` for the PEM form). */
export async function generateSshKey(type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519', format: 'openssh' | 'pem' = 'openssh'): Promise<{ privateKey: string; publicKey: string }> {
  const dir = await tempDir('sshkey');
  const file = path.join(dir, 'key');
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', 'argocd-dr-test', ...(format === 'pem' ? ['-m', 'PEM'] : []), '-f', file], { stdio: 'ignore' });
  const publicKey = (await readFile(`${file}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  return { privateKey: await readFile(file, 'utf8'), publicKey };
}

export async function startSshGitServer(options: SshGitServerOptions): Promise<SshGitServer> {
  const dir = await tempDir('sshd');
  const root = path.resolve(options.root);
  const user = os.userInfo().username;
  const hostKeyFile = path.join(dir, 'host_key');
  execFileSync('ssh-keygen', ['-q', '-t', options.hostKeyType ?? 'ed25519', '-N', '', '-f', hostKeyFile], { stdio: 'ignore' });
  const hostKey = (await readFile(`${hostKeyFile}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  await writeFile(path.join(dir, 'authorized_keys'), `${options.authorizedKeys.join('\n')}\n`, { mode: 0o600 });
  const log = path.join(dir, 'commands.log');
  await writeFile(log, '');
  const serve = path.join(dir, 'git-serve');
  const stallFile = path.join(dir, 'stall-after-bytes');
  // git-shell runs only git-upload-pack/receive-pack/upload-archive; the sed makes '/org/x' relative to the root.
  // A stall holds the channel for a minute at most, so no session outlives a test run by long.
  await writeFile(serve, [
    '#!/bin/sh',
    `printf '%s\\t%s\\n' "$SSH_ORIGINAL_COMMAND" "\${GIT_PROTOCOL:-}" >> '${log}'`,
    `cd '${root}' || exit 1`,
    `git_command=$(printf '%s' "$SSH_ORIGINAL_COMMAND" | sed "s#^\\(git[ -][a-z-]*\\) '/#\\1 '#")`,
    `if [ -s '${stallFile}' ]; then`,
    `  git-shell -c "$git_command" | { head -c "$(cat '${stallFile}')"; sleep 60; }`,
    '  exit 0',
    'fi',
    'exec git-shell -c "$git_command"',
    '',
  ].join('\n'));
  await chmod(serve, 0o755);
  // sshd running as root insists on its privilege separation directory.
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });

  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const config = path.join(dir, 'sshd_config');
    await writeFile(config, [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKeyFile}`,
      'PidFile none',
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      // The temp dir's modes are not what StrictModes expects of a home directory.
      'StrictModes no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      `ForceCommand ${serve}`,
      ...(options.protocol === 'v0' ? [] : ['AcceptEnv GIT_PROTOCOL']),
      'LogLevel INFO',
      '',
    ].join('\n'));
    const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    const listening = await waitForListening(child);
    if (listening === true) {
      return {
        port,
        user,
        url: (repoPath) => `ssh://${user}@127.0.0.1:${port}/${repoPath.replace(/^\/+/, '')}`,
        hostKey,
        knownHostsLine: `[127.0.0.1]:${port} ${hostKey}`,
        commands: async () => (await readFile(log, 'utf8')).split('\n').filter(Boolean),
        stall: (afterBytes) => writeFile(stallFile, afterBytes === undefined ? '' : String(afterBytes)),
        close: () => stop(child),
      };
    }
    await stop(child);
    if (attempt >= 3) throw new Error(`sshd did not start: ${listening}`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves true once sshd says it listens, else with what it printed before exiting. */
function waitForListening(child: ChildProcess): Promise<true | string> {
  return new Promise((resolve) => {
    let stderr = '';
    const timer = setTimeout(() => resolve(`no "Server listening" within 10 s: ${stderr}`), 10_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (/Server listening on/.test(stderr)) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(`sshd exited with ${code}: ${stderr.trim()}`);
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve(`${SSHD} could not run (${error.message}); install openssh-server`);
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
