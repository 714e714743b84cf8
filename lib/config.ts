import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * The deployment configuration of argocd-dr, validated at synth time.
 *
 * Read from a JSON file (CDK context `config`, default `config/argocd-dr.json`, relative to the
 * directory `cdk` runs in: the repository root) and/or from CDK context values of the same names,
 * which override the file's top-level fields (`-c drRegion=eu-west-1`, or objects in cdk.json).
 */
export const DEFAULT_CONFIG_PATH = 'config/argocd-dr.json';
export const DEFAULT_NAMESPACE = 'argocd';
export const DEFAULT_BACKUP_SCHEDULE = 'rate(1 hour)';
export const DEFAULT_VERIFY_SWEEP_SCHEDULE = 'cron(0 3 ? * SUN *)';
export const DEFAULT_NONCURRENT_VERSION_DAYS = 90;
export const DEFAULT_MIRROR_CONCURRENCY = 10;
/** S3's upper bound for an Object Lock default retention in days (100 years). */
export const MAX_OBJECT_LOCK_DAYS = 36500;

/** The part of a construct node that config reads; `app.node` satisfies it. */
export interface ContextSource {
  tryGetContext(key: string): unknown;
}

/** A missing or invalid setting. Each line of the message starts with the field's path. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** One `field.path: problem` line per problem. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[], source?: string) {
    super(source === undefined ? problems.join('\n') : `${problems.join('\n')}\n(configuration from ${source})`);
    this.problems = problems;
  }
}

// ---------------------------------------------------------------------------------------------
// Field formats
// ---------------------------------------------------------------------------------------------

const ACCOUNT = /^\d{12}$/;
// Covers commercial, GovCloud, China and ISO partitions: us-east-1, us-gov-west-1, cn-north-1, us-isob-east-1.
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** Cluster names become store folders (`argocd/<cluster>/`), so they must be safe path segments. */
export const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// A Kubernetes namespace is a DNS-1123 label.
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const VPC_ID = /^vpc-[0-9a-f]{8}([0-9a-f]{9})?$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8}([0-9a-f]{9})?$/;
const SECURITY_GROUP_ID = /^sg-[0-9a-f]{8}([0-9a-f]{9})?$/;
const ROLE_ARN = /^arn:aws(-cn|-us-gov|-iso|-iso-[a-z])?:iam::\d{12}:role\/([\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
// A ref pattern as `git` accepts in a refspec: refs/..., one optional `*`, none of git's forbidden characters.
const REF_PATTERN = /^refs\/[^\s~^:?[\\*]*\*?[^\s~^:?[\\*]*$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** A Secrets Manager secret name (or its ARN), as the console allows them. */
const SECRET_NAME = /^([\w/+=.@-]{1,512}|arn:aws(-cn|-us-gov)?:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+)$/;
/** scp-style SSH address as git reads it: [user@]host:path, no slash before the colon. */
const SCP_URL = /^(?:[^@/\s]+@)?[^:/\s]+:(?!\/\/)\S+$/;

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\(([^()]*)\)$/;
const UNIT_MINUTES: Record<string, number> = { minute: 1, hour: 60, day: 1440 };

const regionMessage = 'is not an AWS region name such as eu-west-1';

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return JSON.stringify(value) ?? String(value);
}

// ---------------------------------------------------------------------------------------------
// Schedule expressions (EventBridge Scheduler)
// ---------------------------------------------------------------------------------------------

/** Minutes between runs of a `rate(...)` expression; undefined for anything else. */
function rateMinutes(expression: string): number | undefined {
  const match = RATE.exec(expression);
  if (!match) return undefined;
  const value = Number(match[1]);
  const unit = match[2]!.replace(/s$/, '');
  return value * UNIT_MINUTES[unit]!;
}

const CRON_FIELDS = [
  { name: 'minutes', chars: /^[0-9*,/-]+$/ },
  { name: 'hours', chars: /^[0-9*,/-]+$/ },
  { name: 'day-of-month', chars: /^[0-9*?,/LW-]+$/ },
  { name: 'month', chars: /^[0-9A-Za-z*,/-]+$/ },
  { name: 'day-of-week', chars: /^[0-9A-Za-z*?,/L#-]+$/ },
  { name: 'year', chars: /^[0-9*,/-]+$/ },
] as const;

/** Why `expression` is not an EventBridge Scheduler rate() or cron() expression, or undefined when it is one. */
export function scheduleExpressionProblem(expression: string): string | undefined {
  const allowed = 'allowed: rate(<n> minute|minutes|hour|hours|day|days) or cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)';
  if (expression.startsWith('rate(')) {
    const match = RATE.exec(expression);
    if (!match) return `${describe(expression)} is not a rate expression; ${allowed}`;
    const value = Number(match[1]);
    const plural = match[2]!.endsWith('s');
    if (value < 1) return `${describe(expression)}: the rate must be at least 1`;
    if (value === 1 && plural) return `${describe(expression)}: a rate of 1 takes a singular unit, e.g. rate(1 hour)`;
    if (value > 1 && !plural) return `${describe(expression)}: a rate above 1 takes a plural unit, e.g. rate(2 hours)`;
    return undefined;
  }
  const cron = CRON.exec(expression);
  if (!cron) return `${describe(expression)} is not a schedule expression; ${allowed}`;
  const fields = cron[1]!.trim().split(/\s+/);
  if (fields.length !== 6) {
    return `${describe(expression)} has ${fields.length} fields; cron() takes 6: <minutes> <hours> <day-of-month> <month> <day-of-week> <year>`;
  }
  for (const [i, field] of fields.entries()) {
    const spec = CRON_FIELDS[i]!;
    if (!spec.chars.test(field)) return `${describe(expression)}: ${spec.name} field ${describe(field)} has characters cron() does not allow there`;
  }
  if ((fields[2] === '?') === (fields[4] === '?')) {
    return `${describe(expression)}: exactly one of day-of-month and day-of-week must be "?"`;
  }
  return undefined;
}

/** Expands a numeric cron field (minutes or hours) into its values; undefined if it uses anything else. */
function expandNumeric(field: string, max: number): number[] | undefined {
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!match) return undefined;
    const start = match[1] === '*' ? 0 : Number(match[2]);
    const end = match[1] === '*' ? max : match[3] !== undefined ? Number(match[3]) : match[4] !== undefined ? max : start;
    const step = match[4] !== undefined ? Number(match[4]) : 1;
    if (step < 1 || start > end || end > max) return undefined;
    for (let v = start; v <= end; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

const DAYS: Record<string, number> = { SUN: 0, MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5, SAT: 6 };

/** Days of the week (0 = Sunday) a day-of-week field selects; undefined for L, # and other forms. */
function expandDaysOfWeek(field: string): number[] | undefined {
  if (field === '*') return [0, 1, 2, 3, 4, 5, 6];
  const day = (token: string) => (/^[1-7]$/.test(token) ? Number(token) - 1 : DAYS[token.toUpperCase()]);
  const values = new Set<number>();
  for (const part of field.split(',')) {
    const [from, to, ...rest] = part.split('-');
    if (rest.length > 0 || from === undefined) return undefined;
    const start = day(from);
    const end = to === undefined ? start : day(to);
    if (start === undefined || end === undefined || start > end) return undefined;
    for (let d = start; d <= end; d++) values.add(d);
  }
  return [...values].sort((a, b) => a - b);
}

/**
 * The longest gap in minutes between two runs of a cron() expression whose days are every day or
 * a set of weekdays (every month, every year); undefined when the gap cannot be derived simply.
 */
function cronMaxGapMinutes(expression: string): number | undefined {
  const fields = CRON.exec(expression)?.[1]?.trim().split(/\s+/);
  if (fields?.length !== 6) return undefined;
  const [min, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  if (month !== '*' || year !== '*') return undefined;
  let days: number[] | undefined;
  if (dow === '?') days = dom === '*' ? [0, 1, 2, 3, 4, 5, 6] : undefined;
  else if (dom === '?') days = expandDaysOfWeek(dow);
  const minutes = expandNumeric(min, 59);
  const hours = expandNumeric(hour, 23);
  if (!days?.length || !minutes?.length || !hours?.length) return undefined;
  const times = days.flatMap((d) => hours.flatMap((h) => minutes.map((m) => d * 1440 + h * 60 + m)));
  const week = 7 * 1440;
  let gap = 0;
  for (const [i, t] of times.entries()) gap = Math.max(gap, (times[(i + 1) % times.length]! - t + week) % week || week);
  return gap;
}

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

const pattern = (re: RegExp, what: string) =>
  z.string().check((ctx) => {
    if (!re.test(ctx.value)) ctx.issues.push({ code: 'custom', input: ctx.value, message: `${describe(ctx.value)} ${what}` });
  });

const wholeNumber = (min: number, max: number, what = 'a whole number') =>
  z.number().check((ctx) => {
    if (!Number.isInteger(ctx.value) || ctx.value < min || ctx.value > max) {
      ctx.issues.push({ code: 'custom', input: ctx.value, message: `${describe(ctx.value)} is not allowed; must be ${what} from ${min} to ${max}` });
    }
  });

const scheduleExpression = z.string().check((ctx) => {
  const problem = scheduleExpressionProblem(ctx.value);
  if (problem) ctx.issues.push({ code: 'custom', input: ctx.value, message: problem });
});

const vpcSchema = z.strictObject({
  vpcId: pattern(VPC_ID, 'is not a VPC id such as vpc-0123456789abcdef0'),
  subnetIds: z.array(pattern(SUBNET_ID, 'is not a subnet id such as subnet-0123456789abcdef0')).min(1),
  securityGroupIds: z.array(pattern(SECURITY_GROUP_ID, 'is not a security group id such as sg-0123456789abcdef0')).min(1),
});

const clusterSchema = z.strictObject({
  name: pattern(CLUSTER_NAME, 'is not a usable cluster name: letters, digits, ".", "_" and "-", starting with a letter or digit').check(
    (ctx) => {
      if (ctx.value.length > 100) ctx.issues.push({ code: 'custom', input: ctx.value, message: 'is longer than 100 characters (the EKS limit)' });
    },
  ),
  region: pattern(REGION, regionMessage),
  namespace: pattern(NAMESPACE, 'is not a Kubernetes namespace name (lower-case letters, digits and "-")').default(DEFAULT_NAMESPACE),
  vpc: vpcSchema.optional(),
});

const schedulesSchema = z
  .strictObject({
    backup: scheduleExpression.default(DEFAULT_BACKUP_SCHEDULE),
    verifySweep: scheduleExpression.default(DEFAULT_VERIFY_SWEEP_SCHEDULE),
    /** For a cron() backup schedule whose interval cannot be derived: the longest expected gap between runs. */
    expectedIntervalMinutes: wholeNumber(1, 527040, 'a whole number of minutes').optional(),
  })
  .check((ctx) => {
    const { backup, expectedIntervalMinutes } = ctx.value;
    if (expectedIntervalMinutes !== undefined || scheduleExpressionProblem(backup) !== undefined) return;
    if (rateMinutes(backup) === undefined && cronMaxGapMinutes(backup) === undefined) {
      ctx.issues.push({
        code: 'custom',
        input: undefined,
        path: ['expectedIntervalMinutes'],
        message: `required: the interval of the backup schedule ${describe(backup)} cannot be derived; give the longest expected gap between runs in minutes`,
      });
    }
  });

const objectLockSchema = z
  .strictObject({
    mode: z.enum(['off', 'governance', 'compliance']).default('off'),
    days: wholeNumber(1, MAX_OBJECT_LOCK_DAYS, 'a whole number of days').optional(),
  })
  .check((ctx) => {
    if (ctx.value.mode !== 'off' && ctx.value.days === undefined) {
      ctx.issues.push({
        code: 'custom',
        input: undefined,
        path: ['days'],
        message: `required when mode is "${ctx.value.mode}": the default retention in days, 1 to ${MAX_OBJECT_LOCK_DAYS}`,
      });
    }
  });

const gitUrl = z.string().check((ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(ctx.value);
  } catch {
    url = undefined;
  }
  // Credentials for SSH (and for private https) repos come from extraReposSecret, never the URL.
  if (!url && SCP_URL.test(ctx.value)) return;
  if ((url?.protocol !== 'https:' && url?.protocol !== 'ssh:') || url.hostname === '') {
    ctx.issues.push({ code: 'custom', input: ctx.value, message: `${describe(ctx.value)} is not an https://, ssh:// or scp-style (git@host:org/repo.git) URL` });
  } else if (url.password !== '' || (url.protocol === 'https:' && url.username !== '')) {
    // The config ends up in the CloudFormation template: no secrets in it.
    ctx.issues.push({ code: 'custom', input: ctx.value, message: 'must not contain credentials; the template would expose them' });
  }
});

const configSchema = z
  .strictObject({
    account: pattern(ACCOUNT, 'is not a 12-digit AWS account id'),
    drRegion: pattern(REGION, regionMessage),
    clusters: z.array(clusterSchema).min(1),
    schedules: schedulesSchema.default({ backup: DEFAULT_BACKUP_SCHEDULE, verifySweep: DEFAULT_VERIFY_SWEEP_SCHEDULE }),
    refs: z
      .array(pattern(REF_PATTERN, 'is not a ref pattern: refs/<path>, at most one "*", no spaces or ~^:?[\\'))
      .default([])
      .check((ctx) => {
        for (const [i, ref] of ctx.value.entries()) {
          if (/\.\.|\/\/|\/$|\.lock(\/|$)|\/\./.test(ref)) {
            ctx.issues.push({ code: 'custom', input: ref, path: [i], message: `${describe(ref)} is not a valid Git ref name` });
          }
        }
      }),
    extraRepos: z.array(gitUrl).default([]),
    /** Secrets Manager secret (name or ARN) with credentials for repositories Argo CD does not know. */
    extraReposSecret: pattern(SECRET_NAME, 'is not a Secrets Manager secret name or ARN').optional(),
    retention: z
      .strictObject({ noncurrentVersionDays: wholeNumber(1, 36500, 'a whole number of days').default(DEFAULT_NONCURRENT_VERSION_DAYS) })
      .default({ noncurrentVersionDays: DEFAULT_NONCURRENT_VERSION_DAYS }),
    objectLock: objectLockSchema.default({ mode: 'off' }),
    alarmEmails: z.array(pattern(EMAIL, 'is not an e-mail address')).default([]),
    concurrency: z
      .strictObject({ mirror: wholeNumber(1, 1000).default(DEFAULT_MIRROR_CONCURRENCY) })
      .default({ mirror: DEFAULT_MIRROR_CONCURRENCY }),
    operatorRoleArns: z.array(pattern(ROLE_ARN, 'is not an IAM role ARN such as arn:aws:iam::123456789012:role/argocd-dr-restore')).default([]),
  })
  // Runs even when other fields are invalid, so a bad config reports all its problems at once.
  .superRefine(
    (value, ctx) => {
      const { clusters, drRegion } = value as { clusters: unknown[]; drRegion: unknown };
      const seen = new Map<string, number>();
      for (const [i, entry] of clusters.entries()) {
        const cluster = entry as { name?: unknown; region?: unknown } | null;
        if (typeof cluster?.name === 'string') {
          // Case-insensitively: restores may land on case-insensitive file systems.
          const key = cluster.name.toLowerCase();
          const first = seen.get(key);
          if (first !== undefined) {
            ctx.addIssue({
              code: 'custom',
              input: cluster.name,
              path: ['clusters', i, 'name'],
              message: `${describe(cluster.name)} is already the name of clusters[${first}]; names must be unique (ignoring case)`,
            });
          } else seen.set(key, i);
        }
        if (typeof cluster?.region === 'string' && cluster.region === drRegion) {
          ctx.addIssue({
            code: 'custom',
            input: cluster.region,
            path: ['clusters', i, 'region'],
            message: `cluster ${describe(cluster.name)} is in the DR region ${drRegion}; the vault must be in a region other than every cluster's`,
          });
        }
      }
    },
    { when: (payload) => Array.isArray((payload.value as { clusters?: unknown } | null)?.clusters) },
  );

export type ArgocdDrConfig = z.output<typeof configSchema>;
/** The config as written in the JSON file, defaults not yet applied. */
export type ArgocdDrConfigInput = z.input<typeof configSchema>;
export type ClusterConfig = ArgocdDrConfig['clusters'][number];
export type SchedulesConfig = ArgocdDrConfig['schedules'];
export type ObjectLockConfig = ArgocdDrConfig['objectLock'];
export type ObjectLockMode = ObjectLockConfig['mode'];

const TOP_LEVEL_KEYS = Object.keys(configSchema.shape) as (keyof ArgocdDrConfigInput)[];

// ---------------------------------------------------------------------------------------------
// Error formatting
// ---------------------------------------------------------------------------------------------

/** `clusters[1].region` */
export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? String(segment) : `.${String(segment)}`;
  }
  return out === '' ? '(config)' : out;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const field = formatPath(issue.path);
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? `${field}: missing; expected ${issue.expected}`
        : `${field}: expected ${issue.expected}, got ${describe(issue.input)}`;
    case 'unrecognized_keys':
      return `${field}: unknown ${issue.keys.length === 1 ? 'field' : 'fields'} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'invalid_value':
      return `${field}: ${describe(issue.input)} is not allowed; allowed: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return issue.origin === 'array'
        ? `${field}: needs at least ${String(issue.minimum)} ${issue.minimum === 1 ? 'entry' : 'entries'}`
        : `${field}: must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'array'
        ? `${field}: allows at most ${String(issue.maximum)} entries`
        : `${field}: must be at most ${String(issue.maximum)}`;
    default:
      return `${field}: ${issue.message}`;
  }
}

/** Validates a raw config object; throws ConfigError with one line per problem. */
export function parseConfig(raw: unknown, source?: string): ArgocdDrConfig {
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(result.error.issues.map(formatIssue), source);
  return result.data;
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

export interface LoadConfigOptions {
  /** Supplies `account` when neither the file nor the context has it (CDK_DEFAULT_ACCOUNT). */
  readonly env?: NodeJS.ProcessEnv;
  /** Directory a relative config path is resolved against; default the working directory (where `cdk` runs). */
  readonly baseDir?: string;
}

function contextOf(source: ContextSource | { node: ContextSource }): ContextSource {
  return 'node' in source ? source.node : source;
}

/** `-c key=value` arrives as a string; objects and arrays may be given as JSON there. */
function fromContext(value: unknown): unknown {
  if (typeof value === 'string' && /^\s*[[{]/.test(value)) {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

/**
 * Loads and validates the configuration: the file named by context `config` (default
 * config/argocd-dr.json, optional when the context holds the configuration itself), overridden
 * field by field by context values; `account` falls back to CDK_DEFAULT_ACCOUNT. Throws ConfigError.
 */
export function loadConfig(source: ContextSource | { node: ContextSource }, options: LoadConfigOptions = {}): ArgocdDrConfig {
  const context = contextOf(source);
  const env = options.env ?? process.env;
  const baseDir = options.baseDir ?? process.cwd();

  const explicitPath = context.tryGetContext('config');
  if (explicitPath !== undefined && (typeof explicitPath !== 'string' || explicitPath === '')) {
    throw new ConfigError([`config: ${describe(explicitPath)} is not a file path; pass -c config=${DEFAULT_CONFIG_PATH}`]);
  }
  const configPath = path.resolve(baseDir, explicitPath ?? DEFAULT_CONFIG_PATH);

  const overrides: Record<string, unknown> = {};
  for (const key of TOP_LEVEL_KEYS) {
    const value = context.tryGetContext(key);
    if (value !== undefined) overrides[key] = fromContext(value);
  }

  let fromFile: Record<string, unknown> = {};
  let sourceName: string | undefined = 'CDK context';
  let text: string | undefined;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Without an explicit path, a missing default file is fine when the context carries the config.
    if (explicitPath !== undefined || code !== 'ENOENT' || overrides.clusters === undefined) {
      throw new ConfigError([
        code === 'ENOENT'
          ? `config: no file ${configPath}; copy config/argocd-dr.sample.json there, or pass -c config=<path to a config file>`
          : `config: cannot read ${configPath}: ${(error as Error).message}`,
      ]);
    }
  }
  if (text !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new ConfigError([`config: ${configPath} is not valid JSON: ${(error as Error).message}`]);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError([`config: ${configPath} must hold a JSON object`]);
    }
    fromFile = parsed as Record<string, unknown>;
    sourceName = Object.keys(overrides).length > 0 ? `${configPath} and CDK context` : configPath;
  }

  const raw: Record<string, unknown> = { ...fromFile, ...overrides };
  if ((raw.account === undefined || raw.account === '') && env.CDK_DEFAULT_ACCOUNT) raw.account = env.CDK_DEFAULT_ACCOUNT;
  // drRegion never comes from CDK_DEFAULT_REGION: that is usually a cluster's region, which the vault must not share.
  return parseConfig(raw, sourceName);
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the vault and backup stacks
// ---------------------------------------------------------------------------------------------

/**
 * Minutes between backup runs, for the "no successful run within twice the interval" alarm:
 * `expectedIntervalMinutes` when given; else exact for rate(); for cron() the longest gap between
 * two runs (daily or weekly patterns). Throws ConfigError when it cannot be derived.
 */
export function backupIntervalMinutes(schedules: Pick<SchedulesConfig, 'backup' | 'expectedIntervalMinutes'>): number {
  if (schedules.expectedIntervalMinutes !== undefined) return schedules.expectedIntervalMinutes;
  const minutes = rateMinutes(schedules.backup) ?? cronMaxGapMinutes(schedules.backup);
  if (minutes === undefined) {
    throw new ConfigError([
      `schedules.expectedIntervalMinutes: required: the interval of the backup schedule ${describe(schedules.backup)} cannot be derived`,
    ]);
  }
  return minutes;
}

/** The backup functions; each backup stack (one per cluster region) creates one role per purpose. */
export const BACKUP_ROLE_PURPOSES = ['export', 'plan', 'mirror', 'verify', 'report'] as const;
export type BackupRolePurpose = (typeof BACKUP_ROLE_PURPOSES)[number];

/**
 * The IAM role name of a backup function in a cluster region:
 * `argocd-dr-<purpose>-<region>`. The vault in the DR region admits these names by ARN, since
 * stacks in different regions cannot reference each other's roles.
 */
export function backupRoleName(purpose: BackupRolePurpose, region: string): string {
  return `argocd-dr-${purpose}-${region}`;
}

/** The AWS partition a region belongs to. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  return 'aws';
}

/** The regions that get a backup stack: every cluster region, once, in config order. */
export function backupRegions(config: Pick<ArgocdDrConfig, 'clusters'>): string[] {
  return [...new Set(config.clusters.map((cluster) => cluster.region))];
}

/** ARN of `backupRoleName(purpose, region)` in the config's account. */
export function backupRoleArn(config: Pick<ArgocdDrConfig, 'account' | 'drRegion'>, purpose: BackupRolePurpose, region: string): string {
  return `arn:${partitionOf(config.drRegion)}:iam::${config.account}:role/${backupRoleName(purpose, region)}`;
}

/** Every backup role ARN the vault admits: each purpose in each cluster region. */
export function backupRoleArns(config: Pick<ArgocdDrConfig, 'account' | 'drRegion' | 'clusters'>): string[] {
  return backupRegions(config).flatMap((region) => BACKUP_ROLE_PURPOSES.map((purpose) => backupRoleArn(config, purpose, region)));
}

/**
 * The vault bucket's name, fixed so that backup stacks in other regions can name it without a
 * cross-region reference: `argocd-dr-vault-<account>-<drRegion>`.
 */
export function vaultBucketName(config: Pick<ArgocdDrConfig, 'account' | 'drRegion'>): string {
  return `argocd-dr-vault-${config.account}-${config.drRegion}`;
}
