/** Where the DR vault is deployed. */
export interface DrConfig {
  readonly account: string;
  readonly drRegion: string;
}

/** The part of a construct node that config reads; `app.node` satisfies it. */
export interface ContextSource {
  tryGetContext(key: string): unknown;
}

/** A missing or invalid setting; the message starts with the field's name. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const ACCOUNT = /^\d{12}$/;
// Covers commercial, GovCloud, China and ISO partitions: us-east-1, us-gov-west-1, cn-north-1, us-isob-east-1.
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/**
 * Reads the deployment target: `drRegion` from context only (never CDK_DEFAULT_REGION, which is
 * usually the primary region the vault must not share), `account` from context or CDK_DEFAULT_ACCOUNT.
 */
export function loadConfig(context: ContextSource, env: NodeJS.ProcessEnv = process.env): DrConfig {
  const drRegion = context.tryGetContext('drRegion');
  if (drRegion === undefined || drRegion === '') {
    throw new ConfigError('drRegion: missing; pass -c drRegion=<region>, e.g. -c drRegion=eu-west-1');
  }
  if (typeof drRegion !== 'string' || !REGION.test(drRegion)) {
    throw new ConfigError(`drRegion: ${JSON.stringify(drRegion)} is not an AWS region name such as eu-west-1`);
  }

  const account = context.tryGetContext('account') ?? env.CDK_DEFAULT_ACCOUNT;
  if (account === undefined || account === '') {
    throw new ConfigError(
      'account: missing; pass -c account=<12-digit id>, or run with AWS credentials so the CDK CLI sets CDK_DEFAULT_ACCOUNT',
    );
  }
  if (typeof account !== 'string' || !ACCOUNT.test(account)) {
    throw new ConfigError(`account: ${JSON.stringify(account)} is not a 12-digit AWS account id`);
  }

  return { account, drRegion };
}
