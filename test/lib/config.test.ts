import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BACKUP_ROLE_PURPOSES,
  ConfigError,
  backupIntervalMinutes,
  backupRegions,
  backupRoleArn,
  backupRoleArns,
  backupRoleName,
  loadConfig,
  parseConfig,
  scheduleExpressionProblem,
  vaultBucketName,
  type ArgocdDrConfigInput,
} from '../../lib/config.js';

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const samplePath = path.join(repoRoot, 'config/argocd-dr.sample.json');
const sample = JSON.parse(readFileSync(samplePath, 'utf8')) as ArgocdDrConfigInput;

const minimal = {
  account: '111111111111',
  drRegion: 'eu-west-1',
  clusters: [{ name: 'prod', region: 'us-east-1' }],
};

function context(values: Record<string, unknown>) {
  return { tryGetContext: (key: string) => values[key] };
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'argocd-dr-config-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The problems parseConfig reports for `raw`, or [] if it is valid. */
function problems(raw: unknown): readonly string[] {
  try {
    parseConfig(raw);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}

/** `minimal` with a change at the top level. */
function withField(change: Record<string, unknown>) {
  return { ...minimal, ...change };
}

describe('parseConfig', () => {
  it('accepts the sample config', () => {
    const config = parseConfig(sample);
    expect(config.drRegion).toBe('us-west-2');
    expect(config.clusters.map((c) => [c.name, c.region, c.namespace])).toEqual([
      ['prod-use1', 'us-east-1', 'argocd'],
      ['prod-euc1', 'eu-central-1', 'argocd'],
    ]);
    expect(config.clusters[0]?.vpc?.subnetIds).toHaveLength(2);
    expect(config.schedules).toEqual({ backup: 'rate(1 hour)', verifySweep: 'cron(0 3 ? * SUN *)' });
    expect(config.objectLock).toEqual({ mode: 'governance', days: 30 });
    expect(config.alarmEmails).toEqual(['platform-oncall@example.com']);
  });

  it('fills in the defaults', () => {
    expect(parseConfig(minimal)).toEqual({
      ...minimal,
      clusters: [{ name: 'prod', region: 'us-east-1', namespace: 'argocd' }],
      schedules: { backup: 'rate(1 hour)', verifySweep: 'cron(0 3 ? * SUN *)' },
      refs: [],
      extraRepos: [],
      retention: { noncurrentVersionDays: 90 },
      objectLock: { mode: 'off' },
      alarmEmails: [],
      concurrency: { mirror: 10 },
      operatorRoleArns: [],
    });
    expect(parseConfig(withField({ schedules: { backup: 'rate(30 minutes)' } })).schedules.verifySweep).toBe('cron(0 3 ? * SUN *)');
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['account', { account: '12345' }, /^account: "12345" is not a 12-digit AWS account id$/],
    ['drRegion', { drRegion: 'EU-WEST-1' }, /^drRegion: "EU-WEST-1" is not an AWS region name such as eu-west-1$/],
    ['no clusters', { clusters: [] }, /^clusters: needs at least 1 entry$/],
    ['cluster name', { clusters: [{ name: '../etc', region: 'us-east-1' }] }, /^clusters\[0\]\.name: "\.\.\/etc" is not a usable cluster name/],
    ['cluster name with a slash', { clusters: [{ name: 'a/b', region: 'us-east-1' }] }, /^clusters\[0\]\.name: /],
    [
      'second cluster region',
      { clusters: [{ name: 'a', region: 'us-east-1' }, { name: 'b', region: 'mars-1' }] },
      /^clusters\[1\]\.region: "mars-1" is not an AWS region name/,
    ],
    ['namespace', { clusters: [{ name: 'a', region: 'us-east-1', namespace: 'Argo_CD' }] }, /^clusters\[0\]\.namespace: .*Kubernetes namespace/],
    [
      'vpc subnet',
      { clusters: [{ name: 'a', region: 'us-east-1', vpc: { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['sub-1'], securityGroupIds: ['sg-01234567'] } }] },
      /^clusters\[0\]\.vpc\.subnetIds\[0\]: "sub-1" is not a subnet id/,
    ],
    [
      'vpc without subnets',
      { clusters: [{ name: 'a', region: 'us-east-1', vpc: { vpcId: 'vpc-0123456789abcdef0', subnetIds: [], securityGroupIds: ['sg-01234567'] } }] },
      /^clusters\[0\]\.vpc\.subnetIds: needs at least 1 entry$/,
    ],
    [
      'vpc id',
      { clusters: [{ name: 'a', region: 'us-east-1', vpc: { vpcId: 'subnet-01234567', subnetIds: ['subnet-01234567'], securityGroupIds: ['sg-01234567'] } }] },
      /^clusters\[0\]\.vpc\.vpcId: "subnet-01234567" is not a VPC id such as vpc-/,
    ],
    [
      'vpc security group',
      { clusters: [{ name: 'a', region: 'us-east-1', vpc: { vpcId: 'vpc-01234567', subnetIds: ['subnet-01234567'], securityGroupIds: ['sg-XYZ'] } }] },
      /^clusters\[0\]\.vpc\.securityGroupIds\[0\]: "sg-XYZ" is not a security group id such as sg-/,
    ],
    [
      'vpc without security groups',
      { clusters: [{ name: 'a', region: 'us-east-1', vpc: { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-01234567'] } }] },
      /^clusters\[0\]\.vpc\.securityGroupIds: missing; expected array$/,
    ],
    ['backup schedule', { schedules: { backup: 'every hour' } }, /^schedules\.backup: "every hour" is not a schedule expression; allowed: rate\(.*\) or cron\(/],
    ['rate unit', { schedules: { backup: 'rate(1 hours)' } }, /^schedules\.backup: .*singular unit/],
    ['rate plural', { schedules: { backup: 'rate(2 hour)' } }, /^schedules\.backup: .*plural unit/],
    ['rate zero', { schedules: { backup: 'rate(0 minutes)' } }, /^schedules\.backup: .*at least 1/],
    ['cron with 5 fields', { schedules: { verifySweep: 'cron(0 3 * * SUN)' } }, /^schedules\.verifySweep: .*has 5 fields; cron\(\) takes 6/],
    ['cron with two day fields', { schedules: { verifySweep: 'cron(0 3 * * SUN *)' } }, /^schedules\.verifySweep: .*exactly one of day-of-month and day-of-week/],
    ['ref', { refs: ['heads/main'] }, /^refs\[0\]: "heads\/main" is not a ref pattern: refs\/<path>/],
    ['ref with ..', { refs: ['refs/../x'] }, /^refs\[0\]: .*not a valid Git ref name/],
    ['extra repo', { extraRepos: ['http://git.example.com/a.git'] }, /^extraRepos\[0\]: "http:\/\/git.example.com\/a.git" is not an https:\/\/, ssh:\/\/ or scp-style \(git@host:org\/repo.git\) URL$/],
    ['extra repos secret', { extraReposSecret: 'no spaces allowed' }, /^extraReposSecret: "no spaces allowed" is not a Secrets Manager secret name or ARN$/],
    ['extra repo credentials', { extraRepos: ['https://user:token@git.example.com/a.git'] }, /^extraRepos\[0\]: must not contain credentials/],
    ['retention', { retention: { noncurrentVersionDays: 0 } }, /^retention\.noncurrentVersionDays: 0 is not allowed; must be a whole number of days from 1 to 36500$/],
    ['object lock mode', { objectLock: { mode: 'strict', days: 3 } }, /^objectLock\.mode: "strict" is not allowed; allowed: "off", "governance", "compliance"$/],
    ['object lock days', { objectLock: { mode: 'compliance' } }, /^objectLock\.days: required when mode is "compliance"/],
    ['object lock fractional days', { objectLock: { mode: 'governance', days: 1.5 } }, /^objectLock\.days: 1\.5 is not allowed/],
    ['alarm email', { alarmEmails: ['oncall'] }, /^alarmEmails\[0\]: "oncall" is not an e-mail address$/],
    ['concurrency', { concurrency: { mirror: 1001 } }, /^concurrency\.mirror: 1001 is not allowed; must be a whole number from 1 to 1000$/],
    ['operator role', { operatorRoleArns: ['arn:aws:iam::123456789012:user/alice'] }, /^operatorRoleArns\[0\]: .* is not an IAM role ARN/],
    ['unknown field', { retension: {} }, /^\(config\): unknown field "retension"$/],
    ['unknown nested field', { objectLock: { mode: 'off', dayz: 3 } }, /^objectLock: unknown field "dayz"$/],
    ['wrong type', { refs: 'refs/notes/*' }, /^refs: expected array, got "refs\/notes\/\*"$/],
  ])('rejects a bad %s, naming the field and what is allowed', (_name, change, message) => {
    const found = problems(withField(change));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it('names a missing required field', () => {
    expect(problems({ account: '111111111111', clusters: minimal.clusters })).toEqual(['drRegion: missing; expected string']);
  });

  it('reports every problem, one line each', () => {
    const found = problems({ account: 'x', drRegion: 'eu-west-1', clusters: [{ name: '-a', region: 'us-east-1' }], alarmEmails: ['no'] });
    expect(found.map((line) => line.split(':')[0])).toEqual(['account', 'clusters[0].name', 'alarmEmails[0]']);
    expect(() => parseConfig({ account: 'x' })).toThrow(ConfigError);
  });

  it('fails when a cluster is in the DR region, naming the cluster', () => {
    const found = problems(
      withField({ drRegion: 'eu-central-1', clusters: [{ name: 'use1', region: 'us-east-1' }, { name: 'euc1', region: 'eu-central-1' }] }),
    );
    expect(found).toEqual([
      'clusters[1].region: cluster "euc1" is in the DR region eu-central-1; the vault must be in a region other than every cluster\'s',
    ]);
  });

  it('requires unique cluster names, ignoring case', () => {
    const found = problems(withField({ clusters: [{ name: 'prod', region: 'us-east-1' }, { name: 'Prod', region: 'us-east-2' }] }));
    expect(found).toEqual(['clusters[1].name: "Prod" is already the name of clusters[0]; names must be unique (ignoring case)']);
  });

  it('allows several clusters in one region', () => {
    expect(parseConfig(withField({ clusters: [{ name: 'a', region: 'us-east-1' }, { name: 'b', region: 'us-east-1' }] })).clusters).toHaveLength(2);
  });

  it('accepts the schedule expressions EventBridge Scheduler does', () => {
    for (const expression of ['rate(1 minute)', 'rate(15 minutes)', 'rate(1 day)', 'cron(0/30 * * * ? *)', 'cron(0 3 ? * MON-FRI *)', 'cron(15 10 L * ? 2030)']) {
      expect(scheduleExpressionProblem(expression), expression).toBeUndefined();
    }
    expect(scheduleExpressionProblem('at(2030-01-01T00:00:00)')).toMatch(/not a schedule expression/);
  });

  it('requires expectedIntervalMinutes for a cron backup schedule whose interval cannot be derived', () => {
    expect(problems(withField({ schedules: { backup: 'cron(0 2 1 * ? *)' } }))).toEqual([
      expect.stringMatching(/^schedules\.expectedIntervalMinutes: required: the interval of the backup schedule "cron\(0 2 1 \* \? \*\)" cannot be derived/),
    ]);
    expect(problems(withField({ schedules: { backup: 'cron(0 2 1 * ? *)', expectedIntervalMinutes: 44640 } }))).toEqual([]);
  });
});

describe('backupIntervalMinutes', () => {
  it.each([
    ['rate(1 minute)', 1],
    ['rate(30 minutes)', 30],
    ['rate(1 hour)', 60],
    ['rate(6 hours)', 360],
    ['rate(2 days)', 2880],
    ['cron(0 * * * ? *)', 60],
    ['cron(0/15 * * * ? *)', 15],
    ['cron(0 3 * * ? *)', 1440],
    ['cron(0 8-18 ? * MON-FRI *)', 14 * 60 + 2 * 1440],
    ['cron(0 3 ? * SUN *)', 7 * 1440],
    ['cron(30 0,12 * * ? *)', 720],
  ])('%s runs at least every %i minutes', (backup, minutes) => {
    expect(backupIntervalMinutes({ backup })).toBe(minutes);
  });

  it('prefers expectedIntervalMinutes, and requires it when the gap cannot be derived', () => {
    expect(backupIntervalMinutes({ backup: 'rate(1 hour)', expectedIntervalMinutes: 90 })).toBe(90);
    expect(() => backupIntervalMinutes({ backup: 'cron(0 0 L * ? *)' })).toThrow(/^schedules\.expectedIntervalMinutes: required/);
  });
});

describe('backup roles and the vault name', () => {
  const config = parseConfig(sample);

  it('names roles argocd-dr-<purpose>-<region>', () => {
    expect(backupRoleName('mirror', 'us-east-1')).toBe('argocd-dr-mirror-us-east-1');
    // IAM's limit is 64 characters; the longest purpose in the longest region names fits.
    for (const purpose of BACKUP_ROLE_PURPOSES) expect(backupRoleName(purpose, 'us-isob-east-1').length).toBeLessThanOrEqual(64);
  });

  it('admits each purpose in each cluster region once', () => {
    expect(backupRegions(config)).toEqual(['us-east-1', 'eu-central-1']);
    expect(backupRoleArn(config, 'export', 'eu-central-1')).toBe('arn:aws:iam::123456789012:role/argocd-dr-export-eu-central-1');
    expect(backupRoleArns(config)).toHaveLength(BACKUP_ROLE_PURPOSES.length * 2);
    expect(backupRoleArn({ account: '111111111111', drRegion: 'cn-north-1' }, 'plan', 'cn-northwest-1')).toMatch(/^arn:aws-cn:iam::/);
  });

  it('fixes the vault bucket name from account and DR region', () => {
    expect(vaultBucketName(config)).toBe('argocd-dr-vault-123456789012-us-west-2');
  });
});

describe('loadConfig', () => {
  it('reads the file named by context `config`, relative to the base directory', () => {
    const config = loadConfig(context({ config: 'config/argocd-dr.sample.json' }), { env: {}, baseDir: repoRoot });
    expect(config).toEqual(parseConfig(sample));
  });

  it('reads config/argocd-dr.json by default', () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'config'));
    writeFileSync(path.join(dir, 'config/argocd-dr.json'), JSON.stringify(minimal));
    expect(loadConfig(context({}), { env: {}, baseDir: dir }).clusters[0]?.name).toBe('prod');
  });

  it('takes the whole config from context when there is no file', () => {
    const config = loadConfig(context({ ...minimal, clusters: JSON.stringify(minimal.clusters) }), { env: {}, baseDir: tempDir() });
    expect(config.clusters).toEqual([{ name: 'prod', region: 'us-east-1', namespace: 'argocd' }]);
  });

  it('lets context values override the file, and accepts an App', () => {
    const app = { node: context({ config: samplePath, drRegion: 'ap-south-1', objectLock: { mode: 'off' } }) };
    const config = loadConfig(app, { env: {} });
    expect(config.drRegion).toBe('ap-south-1');
    expect(config.objectLock).toEqual({ mode: 'off' });
    expect(config.clusters).toHaveLength(2);
  });

  it('falls back to CDK_DEFAULT_ACCOUNT, with the file and context taking precedence', () => {
    const { account: _account, ...noAccount } = minimal;
    const env = { CDK_DEFAULT_ACCOUNT: '222222222222' };
    expect(loadConfig(context({ ...noAccount }), { env, baseDir: tempDir() }).account).toBe('222222222222');
    expect(loadConfig(context({ ...minimal }), { env, baseDir: tempDir() }).account).toBe('111111111111');
    expect(() => loadConfig(context({ ...noAccount }), { env: {}, baseDir: tempDir() })).toThrow(/^account: missing/);
  });

  it('never takes drRegion from CDK_DEFAULT_REGION', () => {
    const { drRegion: _drRegion, ...noRegion } = minimal;
    expect(() => loadConfig(context(noRegion), { env: { CDK_DEFAULT_REGION: 'us-east-1' }, baseDir: tempDir() })).toThrow(/^drRegion: missing/);
  });

  it('says where the config was read from', () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ ...minimal, drRegion: 'us-east-1' }));
    expect(() => loadConfig(context({ config: file }), { env: {} })).toThrow(
      new RegExp(`^clusters\\[0\\]\\.region: cluster "prod" is in the DR region us-east-1.*\\n\\(configuration from ${file}\\)$`),
    );
  });

  it('fails clearly on a missing or malformed file', () => {
    const dir = tempDir();
    expect(() => loadConfig(context({}), { env: {}, baseDir: dir })).toThrow(/^config: no file .*config\/argocd-dr\.json; copy config\/argocd-dr\.sample\.json/);
    expect(() => loadConfig(context({ config: 'nope.json', ...minimal }), { env: {}, baseDir: dir })).toThrow(/^config: no file .*nope\.json/);
    writeFileSync(path.join(dir, 'broken.json'), '{ "account": ');
    expect(() => loadConfig(context({ config: 'broken.json' }), { env: {}, baseDir: dir })).toThrow(/^config: .*broken\.json is not valid JSON/);
    writeFileSync(path.join(dir, 'list.json'), '[]');
    expect(() => loadConfig(context({ config: 'list.json' }), { env: {}, baseDir: dir })).toThrow(/^config: .*list\.json must hold a JSON object/);
    expect(() => loadConfig(context({ config: 42 }), { env: {}, baseDir: dir })).toThrow(/^config: 42 is not a file path/);
  });
});

describe('parseConfig with several problems', () => {
  it('still checks regions and names when other fields are invalid', () => {
    const found = problems({
      account: '123456789012',
      drRegion: 'us-east-1',
      clusters: [{ name: 'a', region: 'us-east-1' }, { name: 'A', region: 'moon' }],
    });
    expect(found).toEqual([
      'clusters[1].region: "moon" is not an AWS region name such as eu-west-1',
      'clusters[0].region: cluster "a" is in the DR region us-east-1; the vault must be in a region other than every cluster\'s',
      'clusters[1].name: "A" is already the name of clusters[0]; names must be unique (ignoring case)',
    ]);
  });
});
