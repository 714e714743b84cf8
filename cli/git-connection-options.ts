import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { GitConnectionContext, GitCredentials } from '../lambdas/git/credentials.js';
import { connectionContextFromExport } from '../lambdas/argocd/connection-config.js';
import { parseRepoUrl } from '../lambdas/git/repo-url.js';
import { UsageError } from './usage-error.js';

/**
 * The Git credential and connection options a command that reaches Git hosts takes, mapped onto
 * Argo CD's repository secret fields. Secrets may come from the environment instead of arguments,
 * which other users of the machine can see.
 */
export interface GitConnectionOptions {
  username?: string;
  password?: string;
  token?: string;
  bearerToken?: string;
  sshKey?: string;
  knownHosts?: string;
  insecureIgnoreHostKey?: boolean;
  caCert?: string;
  clientCert?: string;
  clientKey?: string;
}

/** Adds the options; `ssh: false` leaves out the SSH ones, for a command that speaks HTTPS only. */
export function addGitConnectionOptions(command: Command, transports: { ssh: boolean } = { ssh: true }): Command {
  command
    .option('--username <name>', 'HTTPS username')
    .option('--password <password>', 'HTTPS password (prefer ARGOCD_DR_GIT_PASSWORD: arguments are visible to other users)')
    .option('--token <token>', 'HTTPS access token sent as Basic auth (prefer ARGOCD_DR_GIT_TOKEN)')
    .option('--bearer-token <token>', 'HTTPS token sent as Authorization: Bearer (prefer ARGOCD_DR_GIT_BEARER_TOKEN)');
  if (transports.ssh) {
    command
      .option('--ssh-key <file>', 'SSH private key for ssh:// and git@host:path URLs (or the key itself in ARGOCD_DR_GIT_SSH_KEY)')
      .option('--known-hosts <file>', 'SSH known hosts file (default ~/.ssh/known_hosts; an exported argocd-ssh-known-hosts-cm works too)')
      .option('--insecure-ignore-host-key', 'accept any SSH host key (as the secret field insecureIgnoreHostKey)');
  }
  return command
    .option('--ca-cert <file>', 'PEM CA certificate(s) trusted for the https repositories given (as argocd-tls-certs-cm)')
    .option('--client-cert <file>', 'PEM TLS client certificate (with --client-key)')
    .option('--client-key <file>', 'PEM TLS client key (or the key itself in ARGOCD_DR_GIT_CLIENT_KEY)');
}

/** Credentials from options and environment; undefined when none are given. */
export function credentialsFrom(options: GitConnectionOptions, env: NodeJS.ProcessEnv = process.env): GitCredentials | undefined {
  const username = options.username ?? env.ARGOCD_DR_GIT_USERNAME;
  const password = options.password ?? env.ARGOCD_DR_GIT_PASSWORD;
  const token = options.token ?? env.ARGOCD_DR_GIT_TOKEN;
  const bearerToken = options.bearerToken ?? env.ARGOCD_DR_GIT_BEARER_TOKEN;
  if (password !== undefined && token !== undefined) throw new UsageError('give either a password or a token, not both');
  if (bearerToken !== undefined && (password !== undefined || token !== undefined)) throw new UsageError('give either a bearer token or a password/token, not both');
  const credentials: GitCredentials = {};
  // Hosts that take a token over Basic auth accept any username; x-access-token is GitHub's.
  if (token !== undefined) Object.assign(credentials, { username: username ?? 'x-access-token', password: token });
  else if (password !== undefined) {
    if (username === undefined) throw new UsageError('a password needs a username: pass --username or set ARGOCD_DR_GIT_USERNAME');
    Object.assign(credentials, { username, password });
  } else if (username !== undefined) {
    throw new UsageError('a username needs a password or token: pass --password/--token or set ARGOCD_DR_GIT_PASSWORD/ARGOCD_DR_GIT_TOKEN');
  }
  if (bearerToken !== undefined) credentials.bearerToken = bearerToken;

  const sshKey = options.sshKey !== undefined ? readOption('--ssh-key', options.sshKey) : env.ARGOCD_DR_GIT_SSH_KEY;
  if (sshKey !== undefined) credentials.sshPrivateKey = sshKey;
  if (options.insecureIgnoreHostKey) credentials.insecureIgnoreHostKey = true;

  const clientKey = options.clientKey !== undefined ? readOption('--client-key', options.clientKey) : env.ARGOCD_DR_GIT_CLIENT_KEY;
  if ((options.clientCert === undefined) !== (clientKey === undefined)) {
    throw new UsageError('a TLS client certificate needs both --client-cert and --client-key (or ARGOCD_DR_GIT_CLIENT_KEY)');
  }
  if (options.clientCert !== undefined && clientKey !== undefined) {
    credentials.tlsClientCertData = readOption('--client-cert', options.clientCert);
    credentials.tlsClientCertKey = clientKey;
  }
  return Object.keys(credentials).length > 0 ? credentials : undefined;
}

/** Known hosts and CAs: --known-hosts (else ~/.ssh/known_hosts when present), --ca-cert for every https host given. */
export function connectionContextFrom(options: GitConnectionOptions, urls: readonly string[]): GitConnectionContext {
  const context: { knownHosts?: string; tlsCerts?: Record<string, string> } = {};
  const defaultKnownHosts = path.join(os.homedir(), '.ssh', 'known_hosts');
  if (options.knownHosts !== undefined) {
    const text = readOption('--known-hosts', options.knownHosts);
    // An export.yaml or a saved argocd-ssh-known-hosts-cm: take its ssh_known_hosts.
    const fromConfigMap = /^kind:\s*ConfigMap\s*$/m.test(text) ? connectionContextFromExport(text).knownHosts : undefined;
    if (/^kind:\s*ConfigMap\s*$/m.test(text) && fromConfigMap === undefined) {
      throw new UsageError(`--known-hosts ${options.knownHosts}: a YAML file without an argocd-ssh-known-hosts-cm holding ssh_known_hosts`);
    }
    context.knownHosts = fromConfigMap ?? text;
  } else if (existsSync(defaultKnownHosts)) context.knownHosts = readOption('~/.ssh/known_hosts', defaultKnownHosts);
  if (options.caCert !== undefined) {
    const pem = readOption('--ca-cert', options.caCert);
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca-cert ${options.caCert}: not a PEM certificate file`);
    const hosts = urls.map((url) => parseRepoUrl(url)).filter((repo) => !repo.ssh && repo.base.startsWith('https:')).map((repo) => new URL(repo.base).hostname.toLowerCase());
    context.tlsCerts = Object.fromEntries(hosts.map((host) => [host, pem]));
  }
  return context;
}

function readOption(name: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${name} ${file}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
}
