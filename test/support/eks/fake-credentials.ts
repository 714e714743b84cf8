import type { EksIdentity, VerifyEksTokenOptions } from './token-verifier.js';

/**
 * Planted credentials for the EKS tests. The secret and the session token hold characters that
 * need percent-encoding, and are distinctive enough that a test can prove they leak nowhere.
 */
export const planted = {
  accessKeyId: 'ASIAPLANTEDKEY000001',
  secretAccessKey: 'PLANTED+secret/Access=Key0123456789abcdef',
  sessionToken: 'PLANTED//session+token==IQoJb3JpZ2luX2VjEXAMPLEsessionTOKEN/with+slashes==',
  accountId: '111122223333',
} as const;

/** A second, long-term key (no session token). */
export const plantedLongTerm = {
  accessKeyId: 'AKIAPLANTEDKEY000002',
  secretAccessKey: 'PLANTED-long-term-secret-key-0123456789ab',
} as const;

export const identities: Record<string, EksIdentity> = {
  [planted.accessKeyId]: {
    arn: `arn:aws:sts::${planted.accountId}:assumed-role/argocd-dr-backup/run-1`,
    user: 'argocd-dr',
    groups: ['argocd-dr-readers'],
  },
  [plantedLongTerm.accessKeyId]: {
    arn: `arn:aws:iam::${planted.accountId}:user/ops`,
    user: 'ops',
    groups: ['system:masters'],
  },
};

/** A credentials provider for the planted temporary key. */
export const plantedProvider = async () => ({ ...planted });

/** Verifier options for a cluster that knows both planted keys. */
export function verifierOptions(clusterName: string, now?: () => Date): VerifyEksTokenOptions {
  return {
    clusterName,
    secrets: { [planted.accessKeyId]: planted.secretAccessKey, [plantedLongTerm.accessKeyId]: plantedLongTerm.secretAccessKey },
    sessionTokens: { [planted.accessKeyId]: planted.sessionToken },
    identities,
    ...(now ? { now } : {}),
  };
}

/** Every form in which a planted secret could show up in text. */
export function secretForms(): string[] {
  return [planted.secretAccessKey, planted.sessionToken, plantedLongTerm.secretAccessKey].flatMap((secret) => [
    secret,
    encodeURIComponent(secret),
    Buffer.from(secret).toString('base64'),
  ]);
}

/** Throws if `text` holds a planted secret or session token in any form. */
export function assertNoSecrets(text: string): void {
  for (const form of secretForms()) {
    if (text.includes(form)) throw new Error(`a planted secret leaked into: ${text.slice(0, 200)}…`);
  }
}
