import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { redactSecrets } from '../shared/redact.js';
import { credentialSecrets, type GitConnectionContext, type GitCredentials } from './credentials.js';
import { hostKeyAlgorithms, knownKeysFor } from './known-hosts.js';
import { PktLineReader, ProtocolError } from './pkt-line.js';
import type { RepoUrl, SshLocation } from './repo-url.js';
import type { UploadPackConnection } from './transport.js';

/**
 * Git over SSH: one exec channel running `git-upload-pack '<path>'`, asking for protocol v2 with
 * GIT_PROTOCOL (a server whose sshd does not accept that variable answers in v0, which the ref
 * listing reads as well). Keys stay in memory; the host key must be one known_hosts lists unless
 * the repository's own secret sets insecureIgnoreHostKey.
 */
export interface SshTransportOptions {
  credentials?: GitCredentials;
  context?: GitConnectionContext;
  idleTimeoutMs: number;
  userAgent: string;
}

export type SshFailure = 'auth' | 'unknown-host-key' | 'changed-host-key' | 'refused' | 'timeout' | 'unreachable' | 'key' | 'remote' | 'closed';

export class SshTransportError extends Error {
  constructor(message: string, readonly failure: SshFailure) {
    super(message);
  }
}

// Host key types ssh2 can verify; a known_hosts line of another type (e.g. sk-ssh-ed25519) cannot help.
const SUPPORTED_HOST_KEY_TYPES = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa']);

export function openSshConnection(repo: RepoUrl, options: SshTransportOptions): UploadPackConnection {
  const location = repo.ssh;
  if (!location) throw new Error(`${repo.display} is not an SSH URL`);
  const secrets = credentialSecrets(options.credentials);
  const fail = (message: string, failure: SshFailure) => new SshTransportError(redactSecrets(`${repo.display}: ${message}`, secrets), failure);
  let client: Client | undefined;
  let reader: PktLineReader | undefined;
  let channel: ClientChannel | undefined;
  // The idle timer outlives a conversation that ends before the server does (v2 waits for more commands).
  const idle = { stop: () => undefined as void };

  return {
    repo,
    userAgent: options.userAgent,
    async advertise() {
      client = new Client();
      await connect(client, location, options, fail);
      channel = await exec(client, `git-upload-pack ${shellQuote(location.path)}`, fail);
      reader = new PktLineReader(channelOutput(channel, options.idleTimeoutMs, fail, idle, () => client?.destroy()));
      return reader;
    },
    async request(body) {
      if (!reader || !channel) throw new ProtocolError('request before the advertisement');
      channel.write(body);
      return reader;
    },
    // One channel carries the whole conversation: it stays open until close().
    release: async () => undefined,
    describeError(error) {
      if (error instanceof SshTransportError || error instanceof ProtocolError) return error;
      const message = error instanceof Error ? error.message : String(error);
      return fail(`the SSH connection failed mid-transfer: ${message}; retry, and check the server if it repeats`, 'closed');
    },
    async close() {
      idle.stop();
      channel?.destroy();
      client?.end();
      client = undefined;
    },
  };
}

function connect(
  client: Client,
  location: SshLocation,
  options: SshTransportOptions,
  fail: (message: string, failure: SshFailure) => SshTransportError,
): Promise<void> {
  const credentials = options.credentials;
  const where = location.port === 22 ? location.hostname : `[${location.hostname}]:${location.port}`;
  const ignoreHostKey = credentials?.insecureIgnoreHostKey === true;
  const known = knownKeysFor(options.context?.knownHosts, location.hostname, location.port);
  const usable = known.keys.filter((key) => SUPPORTED_HOST_KEY_TYPES.has(key.type));
  let hostKeyProblem: SshTransportError | undefined;

  const config: ConnectConfig = {
    host: location.hostname,
    port: location.port,
    username: location.user,
    readyTimeout: options.idleTimeoutMs,
    // Also how a stalled server is noticed before any channel data is expected.
    keepaliveInterval: Math.min(15_000, options.idleTimeoutMs),
    keepaliveCountMax: 3,
    hostVerifier: (blob: Buffer) => {
      if (known.revoked.some((revoked) => revoked.equals(blob))) {
        hostKeyProblem = fail(`the SSH host key of ${where} is marked @revoked in known hosts; the server must get a new host key`, 'changed-host-key');
        return false;
      }
      if (ignoreHostKey) return true;
      if (usable.some((key) => key.blob.equals(blob))) return true;
      hostKeyProblem = usable.length === 0
        ? fail(`the SSH host key of ${where} is unknown; add the server's public host key to argocd-ssh-known-hosts-cm (or --known-hosts), e.g. the output of ssh-keyscan${location.port === 22 ? '' : ` -p ${location.port}`} ${location.hostname}, after checking it with the server's owner`, 'unknown-host-key')
        : fail(`the SSH host key of ${where} has CHANGED: it is not the key known hosts lists for it. Someone may be intercepting the connection, or the server was rebuilt; confirm the new key with the server's owner before replacing the entry in argocd-ssh-known-hosts-cm`, 'changed-host-key');
      return false;
    },
  };
  // Offer only the key types known for the host, as OpenSSH does, so the server shows the key that can be checked.
  if (!ignoreHostKey && usable.length > 0) config.algorithms = { serverHostKey: [...new Set(usable.flatMap((key) => hostKeyAlgorithms(key.type)))] as never };
  if (credentials?.sshPrivateKey) config.privateKey = credentials.sshPrivateKey;

  return new Promise((resolve, reject) => {
    client.once('ready', () => resolve());
    // `on`, not `once`: ssh2 can emit a second error (e.g. "Connection lost before handshake" after a
    // timeout) and an error event without a listener would crash the process. Only the first settles.
    client.on('error', (error: Error & { level?: string; code?: string }) => {
      client.end();
      if (hostKeyProblem) return reject(hostKeyProblem);
      if (error.level === 'client-authentication') {
        return reject(credentials?.sshPrivateKey
          ? fail(`the server at ${where} refused the SSH key for user ${location.user}; check that its public key is a deploy key (or user key) with read access to this repository`, 'auth')
          : fail(`the server at ${where} wants an SSH key and none was given; add sshPrivateKey to the repository secret (or pass --ssh-key)`, 'auth'));
      }
      if (error.level === 'client-timeout') {
        return reject(fail(`no SSH handshake from ${where} within ${Math.round(options.idleTimeoutMs / 1000)} s; check the host, port and firewall`, 'timeout'));
      }
      switch (error.code) {
        case 'ECONNREFUSED':
          return reject(fail(`connection refused by ${where}; check the host and port and that the SSH server is up`, 'refused'));
        case 'ENOTFOUND':
        case 'EAI_AGAIN':
          return reject(fail(`host ${location.hostname} could not be resolved; check the URL and DNS`, 'unreachable'));
        case 'ETIMEDOUT':
          return reject(fail(`connecting to ${where} timed out; check the host, port and firewall`, 'timeout'));
        default:
          return reject(fail(`SSH connection to ${where} failed: ${error.message}`, 'closed'));
      }
    });
    try {
      client.connect(config);
    } catch (error) {
      // ssh2 refuses a key it cannot parse before connecting; its message never quotes the key.
      const reason = error instanceof Error ? error.message.replace(/^Cannot parse privateKey: /, '') : String(error);
      reject(fail(`sshPrivateKey is not a private key that can be used (${reason}); give an unencrypted OpenSSH or PEM private key`, 'key'));
    }
  });
}

function exec(client: Client, command: string, fail: (message: string, failure: SshFailure) => SshTransportError): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    client.exec(command, { env: { GIT_PROTOCOL: 'version=2' } }, (error, channel) => {
      if (error) reject(fail(`the server refused to run git-upload-pack: ${error.message}`, 'remote'));
      else resolve(channel);
    });
  });
}

/**
 * The channel's stdout; when it ends, a non-zero exit of git-upload-pack becomes an error that
 * quotes its stderr (e.g. "repository not found"), which says far more than a short stream would.
 */
async function* channelOutput(
  channel: ClientChannel,
  idleTimeoutMs: number,
  fail: (message: string, failure: SshFailure) => SshTransportError,
  idle: { stop: () => void },
  abandonConnection: () => void,
): AsyncGenerator<Buffer> {
  let stderr = '';
  let exitCode: number | undefined;
  channel.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8');
  });
  channel.on('exit', (code: number | null) => {
    exitCode = code ?? undefined;
  });
  const closed = new Promise<void>((resolve) => channel.once('close', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  let stalled: SshTransportError | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = fail(`no data from the server for ${Math.round(idleTimeoutMs / 1000)} s; it may be overloaded or stalled — retry later or raise --timeout`, 'timeout');
      // Closing only the channel would wait for the server to confirm, which a stalled server never
      // does; dropping the connection ends the channel's stream here and now.
      abandonConnection();
    }, idleTimeoutMs);
  };
  idle.stop = () => clearTimeout(timer);
  arm();
  try {
    try {
      for await (const chunk of channel as AsyncIterable<Buffer>) {
        arm();
        yield chunk;
      }
    } catch (error) {
      throw stalled ?? error;
    }
    clearTimeout(timer);
    if (stalled) throw stalled;
    await closed;
    const said = stderr.trim().split(/\r?\n/).filter(Boolean).slice(-3).join('; ');
    if (exitCode !== 0 && exitCode !== undefined) {
      throw fail(`git-upload-pack on the server failed (exit ${exitCode})${said ? `: ${said}` : ''}; check the repository path and that the key may read it`, 'remote');
    }
  } finally {
    clearTimeout(timer);
  }
}

/** Quotes a path for the remote shell the way git does (sq_quote): inside '', with ' and ! escaped. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, "'\\''").replace(/!/g, "'\\!'")}'`;
}
