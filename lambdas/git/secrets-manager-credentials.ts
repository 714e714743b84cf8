import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { normalizeRepoUrl } from '../argocd/repo-url.js';
import type { GitCredentials } from './credentials.js';

/**
 * Credentials for repositories Argo CD does not know (config `extraRepos`), kept in one AWS Secrets
 * Manager secret (config `extraReposSecret`) whose SecretString is a JSON list of entries:
 *
 *   [{ "url": "https://git.example.com/platform/", "username": "bot", "password": "…" },
 *    { "url": "git@git.example.com:infra/charts.git", "sshPrivateKey": "-----BEGIN OPENSSH…" }]
 *
 * An entry's url is a repository URL or a prefix of one; the longest matching prefix wins, after
 * Argo CD's URL normalisation, exactly as Argo CD picks a repo-creds template.
 */
export interface ExtraRepoCredentials {
  /** Credentials for a repository URL, or undefined when no entry matches it. */
  credentialsFor(url: string): GitCredentials | undefined;
  /** How many entries the secret holds (for logs; never their values). */
  readonly entries: number;
  /** The secret's name (or the file's), for reports: "fetched with the extra repositories secret <name>". */
  readonly secretId: string;
}

export class ExtraReposSecretError extends Error {}

const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')]);
const text = z.string().min(1);
const entrySchema = z.strictObject({
  url: text,
  username: z.string().optional(),
  password: z.string().optional(),
  bearerToken: text.optional(),
  sshPrivateKey: text.optional(),
  insecureIgnoreHostKey: flag.optional(),
  tlsClientCertData: text.optional(),
  tlsClientCertKey: text.optional(),
  insecure: flag.optional(),
  proxy: text.optional(),
  noProxy: text.optional(),
  githubAppID: z.union([text, z.number().int().transform(String)]).optional(),
  githubAppInstallationID: z.union([text, z.number().int().transform(String)]).optional(),
  githubAppPrivateKey: text.optional(),
  githubAppEnterpriseBaseUrl: text.optional(),
});

/** Reads and checks the secret; errors name the secret and the entry, never a value. */
export async function readExtraRepoCredentials(secretId: string, client: SecretsManagerClient = new SecretsManagerClient({})): Promise<ExtraRepoCredentials> {
  let secretString: string | undefined;
  try {
    const answer = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    secretString = answer.SecretString;
  } catch (error) {
    const name = (error as { name?: string }).name ?? '';
    const region = await client.config.region().catch(() => 'the configured region');
    switch (name) {
      case 'ResourceNotFoundException':
        throw new ExtraReposSecretError(`the extra repositories secret "${secretId}" does not exist in ${region}; create it, or fix extraReposSecret in the config`);
      case 'AccessDeniedException':
        throw new ExtraReposSecretError(`not allowed to read the extra repositories secret "${secretId}": the role needs secretsmanager:GetSecretValue on it (and kms:Decrypt when a customer managed key encrypts it)`);
      case 'DecryptionFailure':
        throw new ExtraReposSecretError(`the extra repositories secret "${secretId}" could not be decrypted: allow kms:Decrypt on its KMS key`);
      default:
        throw new ExtraReposSecretError(`reading the extra repositories secret "${secretId}" failed: ${name || 'error'}${error instanceof Error && name !== error.message ? ` (${error.message.slice(0, 200)})` : ''}`);
    }
  }
  if (secretString === undefined) throw new ExtraReposSecretError(`the extra repositories secret "${secretId}" has no SecretString; store the JSON list as text`);
  return parseExtraRepoCredentials(secretString, secretId);
}

/** Parses the secret's JSON text (exported for tests and for a local file of the same shape). */
export function parseExtraRepoCredentials(secretString: string, secretId: string): ExtraRepoCredentials {
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    // JSON.parse's message quotes the text around the error, which may be a password.
    throw new ExtraReposSecretError(`the extra repositories secret "${secretId}" is not JSON; it must be a list of {"url": …, credentials…} objects`);
  }
  const list = z.array(z.unknown()).safeParse(json);
  if (!list.success) throw new ExtraReposSecretError(`the extra repositories secret "${secretId}" must be a JSON list of {"url": …, credentials…} objects`);
  const entries = list.data.map((item, index) => {
    const parsed = entrySchema.safeParse(item);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join('.') || 'entry';
      // Zod's messages say what was expected, never the value given.
      const what = issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}` : `${field}: ${issue.message}`;
      throw new ExtraReposSecretError(`the extra repositories secret "${secretId}", entry ${index}: ${what}`);
    }
    const { url, ...credentials } = parsed.data;
    const defined = Object.fromEntries(Object.entries(credentials).filter(([, value]) => value !== undefined)) as GitCredentials;
    return { prefix: normalizeRepoUrl(url), credentials: defined };
  });
  return {
    entries: entries.length,
    secretId,
    credentialsFor(url) {
      const normalized = normalizeRepoUrl(url);
      let best: (typeof entries)[number] | undefined;
      for (const entry of entries) {
        if (normalized.startsWith(entry.prefix) && (!best || entry.prefix.length > best.prefix.length)) best = entry;
      }
      return best ? { ...best.credentials } : undefined;
    },
  };
}
