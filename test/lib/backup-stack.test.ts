import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Duration, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../lib/app.js';
import { BackupStack, READER_GROUP, backupInterval, type BackupStackProps } from '../../lib/backup-stack.js';
import { staleness } from '../../lib/constructs/backup-monitoring.js';
import { BackupMetric, METRICS_NAMESPACE } from '../../lambdas/shared/metrics.js';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };
const account = '111111111111';
const region = 'us-east-1';
const vaultKeyArn = `arn:aws:kms:eu-west-1:${account}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;

const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

function baseProps(overrides: Partial<BackupStackProps> = {}): BackupStackProps {
  return {
    env: { account, region },
    clusters: [
      { name: 'prod', region, namespace: 'argocd' },
      { name: 'staging', region, namespace: 'gitops' },
    ],
    vaultBucketName: 'argocd-dr-vault',
    vaultKeyArn,
    drRegion: 'eu-west-1',
    schedules: { backup: 'rate(1 hour)', verifySweep: 'cron(0 3 ? * SUN *)' },
    refs: ['refs/heads/release-*'],
    extraRepos: ['https://git.example.com/platform/charts.git'],
    alarmEmails: ['oncall@example.com'],
    mirrorConcurrency: 20,
    ...overrides,
  };
}

function synth(overrides: Partial<BackupStackProps> = {}) {
  const outdir = mkdtempSync(path.join(tmpdir(), 'cdk-out-'));
  outdirs.push(outdir);
  const app = new App({ context: cdkJson.context, outdir });
  const stack = new BackupStack(app, 'Backup', baseProps(overrides));
  return { app, stack, template: Template.fromStack(stack), outdir };
}

type Resource = { Type: string; Properties: Record<string, unknown> };
const { app, stack, template, outdir } = synth();
const resources = template.toJSON().Resources as Record<string, Resource>;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
const purposes = ['export', 'plan', 'mirror', 'verify', 'report'] as const;

function definition(machine: 'backupRun' | 'verifySweep'): string {
  const body = resources[id(stack.workflows[machine])]!.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] };
  return body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : JSON.stringify(part))).join('');
}

describe('BackupStack functions', () => {
  it.each(purposes)('%s runs nodejs24.x on arm64 with tracing, Powertools settings and source maps', (purpose) => {
    const fn = resources[id(stack.functions[purpose])]!;
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: id(stack.functions[purpose].logs) } },
      Environment: {
        Variables: {
          NODE_OPTIONS: '--enable-source-maps',
          POWERTOOLS_SERVICE_NAME: 'argocd-dr',
          POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
          STORE: 's3://argocd-dr-vault',
          KMS_KEY_ID: vaultKeyArn,
          VAULT_REGION: 'eu-west-1',
        },
      },
    });
    expect(resources[id(stack.functions[purpose].logs)]!.Properties).toEqual({ RetentionInDays: 90 });
  });

  it('sizes each function from its benchmark', () => {
    const sizing = Object.fromEntries(
      purposes.map((purpose) => {
        const p = resources[id(stack.functions[purpose])]!.Properties;
        return [purpose, [p.MemorySize, p.Timeout, (p.EphemeralStorage as { Size: number } | undefined)?.Size]];
      }),
    );
    expect(sizing).toEqual({
      export: [1024, 300, undefined],
      plan: [512, 900, undefined],
      mirror: [1024, 900, undefined],
      verify: [3008, 900, 10240],
      report: [256, 120, undefined],
    });
  });

  it('passes refs and extra repos as JSON, and the work bucket to plan and report', () => {
    const env = (purpose: (typeof purposes)[number]) =>
      (resources[id(stack.functions[purpose])]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env('plan')).toMatchObject({
      REFS: '["refs/heads/release-*"]',
      EXTRA_REPOS: '["https://git.example.com/platform/charts.git"]',
      WORK_BUCKET: { Ref: id(stack.workBucket) },
    });
    expect(env('mirror').REFS).toBe('["refs/heads/release-*"]');
    expect(env('report').WORK_BUCKET).toEqual({ Ref: id(stack.workBucket) });
  });

  it('bundles ESM with a source map, and the verifier with its worker and an ESM package.json', () => {
    const assetDir = (purpose: (typeof purposes)[number]) => {
      const code = resources[id(stack.functions[purpose])]!.Properties.Code as { S3Key: string };
      return path.join(outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
    };
    app.synth();
    for (const purpose of purposes) {
      expect(existsSync(path.join(assetDir(purpose), 'index.mjs')), purpose).toBe(true);
      expect(existsSync(path.join(assetDir(purpose), 'index.mjs.map')), purpose).toBe(true);
    }
    const verify = assetDir('verify');
    expect(readFileSync(path.join(verify, 'resolve-worker.js'), 'utf8')).toContain('postMessage');
    expect(JSON.parse(readFileSync(path.join(verify, 'package.json'), 'utf8'))).toEqual({ type: 'module' });
  });

  it('gives every function a deterministic role name the vault policies can admit', () => {
    for (const purpose of purposes) {
      expect(resources[id(stack.functions[purpose].executionRole)]!.Properties.RoleName).toBe(`argocd-dr-${purpose}-${region}`);
    }
    const custom = synth({ roleName: (purpose, r) => `custom-${purpose}-${r}` });
    custom.template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'custom-verify-us-east-1' });
  });
});

describe('BackupStack least privilege', () => {
  const statements = ofType('AWS::IAM::Policy').flatMap(([logicalId, r]) =>
    ((r.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown; Effect: string }[] }).Statement).map((s) => ({
      policy: logicalId,
      ...s,
      actions: [s.Action].flat(),
    })),
  );
  const policyOf = (purpose: (typeof purposes)[number]) =>
    stack.getLogicalId(stack.functions[purpose].executionRole.node.findChild('DefaultPolicy').node.defaultChild as never);

  it('has no IAM statement with a wildcard action', () => {
    expect(statements.filter((s) => s.actions.some((action) => action.includes('*')))).toEqual([]);
  });

  it('allows eks:DescribeCluster on the configured clusters only, to the export role only', () => {
    const describe = statements.filter((s) => s.actions.includes('eks:DescribeCluster'));
    expect(describe).toHaveLength(1);
    expect(describe[0]!.policy).toBe(policyOf('export'));
    expect(describe[0]!.Resource).toEqual([
      `arn:aws:eks:${region}:${account}:cluster/prod`,
      `arn:aws:eks:${region}:${account}:cluster/staging`,
    ]);
  });

  it('scopes vault object access to the prefixes each function owns', () => {
    const objectGrants = (purpose: (typeof purposes)[number], action: string) =>
      statements.filter((s) => s.policy === policyOf(purpose) && s.actions.includes(action)).flatMap((s) => [s.Resource].flat());
    expect(objectGrants('export', 's3:PutObject')).toEqual(['arn:aws:s3:::argocd-dr-vault/argocd/*']);
    expect(objectGrants('mirror', 's3:PutObject')).toEqual(['arn:aws:s3:::argocd-dr-vault/git/*', 'arn:aws:s3:::argocd-dr-vault/runs/*']);
    expect(objectGrants('verify', 's3:PutObject')).toEqual(['arn:aws:s3:::argocd-dr-vault/runs/*']);
    expect(objectGrants('verify', 's3:GetObject')).toEqual(['arn:aws:s3:::argocd-dr-vault/git/*', 'arn:aws:s3:::argocd-dr-vault/runs/*']);
    // The exported repository Secrets: the mirror fetches with the credentials Argo CD would use.
    expect(objectGrants('mirror', 's3:GetObject')).toEqual(['arn:aws:s3:::argocd-dr-vault/argocd/*', 'arn:aws:s3:::argocd-dr-vault/git/*']);
    expect(objectGrants('report', 's3:PutObject')).toEqual(['arn:aws:s3:::argocd-dr-vault/runs/*']);
    // The report judges from kept answers: manifests (never the exports with their Secrets) and sidecars, no bundle.
    expect(objectGrants('report', 's3:GetObject').filter((resource) => typeof resource === 'string')).toEqual([
      'arn:aws:s3:::argocd-dr-vault/argocd/*/manifest.json', 'arn:aws:s3:::argocd-dr-vault/git/*.json', 'arn:aws:s3:::argocd-dr-vault/runs/*',
    ]);
  });

  it('allows KMS on the vault key only, through S3 in the DR region', () => {
    const kms = statements.filter((s) => s.actions.some((action) => action.startsWith('kms:')));
    expect(kms.length).toBeGreaterThan(0);
    for (const s of kms) {
      expect(s.Resource).toBe(vaultKeyArn);
      expect(s).toMatchObject({ Condition: { StringEquals: { 'kms:ViaService': 's3.eu-west-1.amazonaws.com' } } });
    }
    expect(kms.find((s) => s.policy === policyOf('mirror') && s.actions.includes('kms:GenerateDataKey'))).toBeDefined();
  });

  it('maps the export role to the read-only Kubernetes group in every cluster', () => {
    for (const clusterName of ['prod', 'staging']) {
      template.hasResourceProperties('AWS::EKS::AccessEntry', {
        ClusterName: clusterName,
        PrincipalArn: { 'Fn::GetAtt': [id(stack.functions.export.executionRole), 'Arn'] },
        Type: 'STANDARD',
        KubernetesGroups: [READER_GROUP],
      });
    }
    template.resourceCountIs('AWS::EKS::AccessEntry', 2);
    expect(READER_GROUP).toBe('argocd-dr-readers');
    expect(readFileSync(new URL('../../deploy/rbac/argocd-dr-reader.yaml', import.meta.url), 'utf8')).toContain(`name: ${READER_GROUP}`);
  });
});

describe('BackupStack workflows', () => {
  it('runs export per cluster, plan, a Distributed Map of mirror then verify, and report', () => {
    const asl = JSON.parse(definition('backupRun').replace(/\{"Fn::GetAtt":\["(\w+)","Arn"\]\}/g, '$1').replace(/\{"Ref":"([\w:]+)"\}/g, '$1')) as {
      StartAt: string;
      States: Record<string, Record<string, unknown>>;
    };
    expect(asl.StartAt).toBe('StartRun');
    expect(asl.States.StartRun).toMatchObject({ Parameters: { 'runId.$': '$$.Execution.Name' } });
    expect(asl.States.ExportClusters).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.clusters',
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        States: {
          ExportCluster: { Resource: id(stack.functions.export), Catch: [{ ErrorEquals: ['States.ALL'], Next: 'ExportFailed' }] },
          ExportFailed: { Parameters: { status: 'failed' } },
        },
      },
    });
    expect(asl.States.Plan).toMatchObject({ Resource: id(stack.functions.plan), ResultPath: '$.plan', Catch: [{ Next: 'Report' }] });
    expect(asl.States.MirrorRepos).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 20,
      ToleratedFailurePercentage: 100,
      ItemReader: {
        Resource: 'arn:AWS::Partition:states:::s3:getObject',
        ReaderConfig: { InputType: 'JSON' },
        Parameters: { Bucket: id(stack.workBucket), 'Key.$': '$.plan.itemsKey' },
      },
      ResultWriter: { Parameters: { Bucket: id(stack.workBucket) } },
      ItemProcessor: {
        ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' },
        States: {
          MirrorRepo: { Resource: id(stack.functions.mirror) },
          'Mirrored?': { Type: 'Choice' },
          VerifyNewBundle: { Resource: id(stack.functions.verify), Parameters: { 'bundle.$': '$.mirror.verifyBundle' } },
        },
      },
      Catch: [{ Next: 'Report' }],
      Next: 'Report',
    });
    const mirrorRetry = (asl.States.MirrorRepos as { ItemProcessor: { States: { MirrorRepo: { Retry: { ErrorEquals: string[]; BackoffRate: number }[] } } } })
      .ItemProcessor.States.MirrorRepo.Retry;
    expect(mirrorRetry).toContainEqual(expect.objectContaining({ ErrorEquals: ['States.TaskFailed', 'States.Timeout'], BackoffRate: 4 }));
    expect(asl.States.Report).toMatchObject({ Resource: id(stack.functions.report), End: true });
    expect(asl.States.Report).not.toHaveProperty('Parameters');
  });

  it('runs the weekly sweep as a Distributed Map of verify over the planned bundle list, then report', () => {
    const text = definition('verifySweep');
    expect(text).toContain('"sweep":"verify"');
    expect(text).toContain('"Key.$":"$.plan.itemsKey"');
    expect(text).toContain('"ToleratedFailurePercentage":100');
    for (const fn of [stack.functions.plan, stack.functions.verify, stack.functions.report]) expect(text).toContain(id(fn));
  });

  it('logs every state machine event and traces with X-Ray', () => {
    for (const machine of [stack.workflows.backupRun, stack.workflows.verifySweep]) {
      expect(resources[id(machine)]!.Properties).toMatchObject({
        StateMachineType: 'STANDARD',
        TracingConfiguration: { Enabled: true },
        LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true },
      });
    }
  });

  it('schedules both machines with an empty input, through one role that may start only them', () => {
    for (const [expression, machine] of [
      ['rate(1 hour)', stack.workflows.backupRun],
      ['cron(0 3 ? * SUN *)', stack.workflows.verifySweep],
    ] as const) {
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: expression,
        State: 'ENABLED',
        Target: { Arn: { Ref: id(machine) }, Input: '{}', RoleArn: Match.anyValue() },
      });
    }
    const roles = new Set(ofType('AWS::Scheduler::Schedule').map(([, r]) => JSON.stringify((r.Properties.Target as { RoleArn: unknown }).RoleArn)));
    expect(roles.size).toBe(1);
    const schedulerRole = ofType('AWS::IAM::Role').find(([, r]) => JSON.stringify(r.Properties).includes('scheduler.amazonaws.com'))![0];
    const policy = ofType('AWS::IAM::Policy').find(([, r]) => JSON.stringify(r.Properties.Roles).includes(schedulerRole))![1];
    expect((policy.Properties.PolicyDocument as { Statement: unknown[] }).Statement).toEqual([
      { Action: 'states:StartExecution', Effect: 'Allow', Resource: [{ Ref: id(stack.workflows.backupRun) }, { Ref: id(stack.workflows.verifySweep) }] },
    ]);
  });
});

describe('BackupStack alarms and dashboard', () => {
  const alarms = ofType('AWS::CloudWatch::Alarm').map(([, r]) => r.Properties);
  const alarm = (metricName: string, dims?: object) =>
    alarms.filter((a) => a.MetricName === metricName && (dims === undefined || JSON.stringify(a.Dimensions).includes(JSON.stringify(dims).slice(1, -1))));
  const topicRef = { Ref: id(stack.monitoring.topic) };

  it.each([
    [BackupMetric.RunFailed, 'notBreaching', 'GreaterThanOrEqualToThreshold'],
    [BackupMetric.RunPartiallyFailed, 'notBreaching', 'GreaterThanOrEqualToThreshold'],
    [BackupMetric.BundlesFailedVerification, 'notBreaching', 'GreaterThanOrEqualToThreshold'],
  ])('alarms on %s (missing data %s)', (metricName, missing, comparison) => {
    expect(alarm(metricName)).toEqual([
      expect.objectContaining({
        Namespace: 'ArgocdDr',
        Dimensions: [{ Name: 'service', Value: 'argocd-dr' }],
        Threshold: 1,
        ComparisonOperator: comparison,
        TreatMissingData: missing,
        AlarmActions: [topicRef],
        OKActions: [topicRef],
      }),
    ]);
  });

  it('alarms when no run succeeded within twice the interval, treating silence as breaching', () => {
    expect(alarm(BackupMetric.RunSucceeded)).toEqual([
      expect.objectContaining({
        Statistic: 'Sum',
        Period: 3600,
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
        AlarmActions: [topicRef],
      }),
    ]);
  });

  it('alarms on failed and timed-out executions of both state machines', () => {
    for (const machine of [stack.workflows.backupRun, stack.workflows.verifySweep]) {
      for (const metricName of ['ExecutionsFailed', 'ExecutionsTimedOut']) {
        expect(alarm(metricName, { Name: 'StateMachineArn', Value: { Ref: id(machine) } })).toEqual([
          expect.objectContaining({ TreatMissingData: 'notBreaching', Threshold: 1, AlarmActions: [topicRef] }),
        ]);
      }
    }
  });

  it('alarms on errors and throttles of every function', () => {
    for (const purpose of purposes) {
      for (const metricName of ['Errors', 'Throttles']) {
        expect(alarm(metricName, { Name: 'FunctionName', Value: { Ref: id(stack.functions[purpose]) } }), `${purpose} ${metricName}`).toEqual([
          expect.objectContaining({ Namespace: 'AWS/Lambda', TreatMissingData: 'notBreaching', AlarmActions: [topicRef] }),
        ]);
      }
    }
    expect(alarms).toHaveLength(4 + 4 + 10);
  });

  it('sends alarms to a KMS-encrypted, TLS-only topic with the configured e-mail subscriptions', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' } })]) },
    });
  });

  it('has a dashboard of backup age, runs by result, repos by status, bytes, verification and durations', () => {
    const [[, dashboard]] = ofType('AWS::CloudWatch::Dashboard') as [[string, Resource]];
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const text of ['Backup age', 'Runs by result', 'Repositories by status', 'Bytes stored', 'Verification results', 'Run duration', 'Function duration']) {
      expect(body).toContain(text);
    }
    for (const metricName of Object.values(BackupMetric)) expect(body).toContain(metricName);
  });
});

describe('BackupStack configuration', () => {
  it('reads the interval from rate() and requires it for cron()', () => {
    expect(backupInterval({ backup: 'rate(30 minutes)', verifySweep: 'x' }).toMinutes()).toBe(30);
    expect(backupInterval({ backup: 'rate(1 day)', verifySweep: 'x' }).toHours()).toBe(24);
    expect(() => backupInterval({ backup: 'cron(0 * * * ? *)', verifySweep: 'x' })).toThrow(/^schedules.backupInterval: required/);
    expect(backupInterval({ backup: 'cron(0 */6 * * ? *)', verifySweep: 'x', backupInterval: Duration.hours(6) }).toHours()).toBe(6);
  });

  it('watches staleness in whole periods of at most a day, within CloudWatch 7-day limit', () => {
    expect(staleness(Duration.days(2))).toMatchObject({ periods: 4 });
    expect(staleness(Duration.days(2)).period.toSeconds()).toBe(86_400);
    expect(() => staleness(Duration.days(4))).toThrow(/^schedules.backup: /);
  });

  it.each([
    [{ clusters: [] }, /^clusters: /],
    [{ clusters: [{ name: 'eu', region: 'eu-central-1', namespace: 'argocd' }] }, /^clusters: eu \(eu-central-1\) not in this stack's region us-east-1/],
    [{ drRegion: region }, /^drRegion: /],
    [{ mirrorConcurrency: 0 }, /^concurrency.mirror: /],
  ])('rejects bad props, naming the field (%#)', (overrides, message) => {
    expect(() => new BackupStack(new App(), 'Bad', baseProps(overrides as Partial<BackupStackProps>))).toThrow(message);
  });
});

describe('BackupStack cdk-nag AwsSolutions', () => {
  it('raises no CDK warnings or errors', () => {
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
  });

  it('has no unacknowledged findings', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.resourceLogicalId).join(',')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('acknowledges only wildcard resources and the work bucket access logs, each with a reason', () => {
    const acknowledged = stack.node.findAll().flatMap((construct) =>
      construct.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .flatMap((entry) => Object.entries(entry.data as Record<string, string>).map(([rule, reason]) => ({ id: rule, reason }))),
    );
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const { id: rule, reason } of acknowledged) {
      expect(rule).toMatch(/^Annotation::AwsSolutions-(IAM5\[Resource::.+\]|S1)$/);
      expect(reason.length).toBeGreaterThan(40);
    }
    expect(acknowledged.filter((a) => a.id === 'Annotation::AwsSolutions-S1')).toHaveLength(1);
  });

  it('passes an app synth with the checks registered', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cdk-out-'));
    outdirs.push(dir);
    const nagApp = new App({ context: cdkJson.context, outdir: dir });
    new BackupStack(nagApp, 'Backup', baseProps());
    Validations.of(nagApp).addPlugins(new AwsSolutionsChecks(nagApp));
    nagApp.synth();
    const report = JSON.parse(readFileSync(path.join(dir, 'validation-report.json'), 'utf8')) as { pluginReports: { violations: unknown[] }[] };
    expect(report.pluginReports.flatMap((r) => r.violations)).toEqual([]);
  });
});

describe('BackupStack with a private cluster endpoint', () => {
  const vpc = {
    vpcId: 'vpc-0a1b2c3d4e5f60718',
    subnetIds: ['subnet-0a1b2c3d4e5f60718', 'subnet-0b2c3d4e5f6071829'],
    securityGroupIds: ['sg-0c3d4e5f607182930'],
  };
  const priv = synth({
    clusters: [
      { name: 'prod', region, namespace: 'argocd', vpc },
      { name: 'staging', region, namespace: 'gitops' },
    ],
  });
  const privResources = priv.template.toJSON().Resources as Record<string, Resource>;
  const privId = (construct: { node: { defaultChild?: unknown } }) => priv.stack.getLogicalId(construct.node.defaultChild as never);
  const prodExport = priv.stack.clusterExports.prod!;
  const exportPolicy = () => {
    const policyId = privId(priv.stack.functions.export.executionRole.node.findChild('DefaultPolicy') as never);
    return (privResources[policyId]!.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement;
  };

  it('gives only that cluster an export function of its own, in its VPC, with the export settings', () => {
    expect(Object.keys(priv.stack.clusterExports)).toEqual(['prod']);
    expect(ofType('AWS::Lambda::Function')).toHaveLength(5);
    expect(Object.values(privResources).filter((r) => r.Type === 'AWS::Lambda::Function')).toHaveLength(6);
    expect(privResources[privId(prodExport)]!.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      MemorySize: 1024,
      Timeout: 300,
      VpcConfig: { SubnetIds: vpc.subnetIds, SecurityGroupIds: vpc.securityGroupIds },
      Environment: { Variables: { STORE: 's3://argocd-dr-vault', VAULT_REGION: 'eu-west-1', KMS_KEY_ID: vaultKeyArn } },
      LoggingConfig: { LogGroup: { Ref: privId(prodExport.logs) } },
    });
    expect(privResources[privId(priv.stack.functions.export)]!.Properties).not.toHaveProperty('VpcConfig');
    // No security group or rule of its own: the operator's groups are used as they are.
    expect(Object.values(privResources).filter((r) => r.Type.startsWith('AWS::EC2::'))).toEqual([]);
  });

  it('shares the export role, which the vault admits by name and the access entries map', () => {
    expect(prodExport.executionRole).toBe(priv.stack.functions.export.executionRole);
    expect(privResources[privId(prodExport)]!.Properties.Role).toEqual({ 'Fn::GetAtt': [privId(priv.stack.functions.export.executionRole), 'Arn'] });
    expect(Object.values(privResources).filter((r) => r.Type === 'AWS::IAM::Role' && r.Properties.RoleName === `argocd-dr-export-${region}`)).toHaveLength(1);
    priv.template.resourceCountIs('AWS::EKS::AccessEntry', 2);
    // Lambda checks the ENI permissions when it creates the function: the policy must exist first.
    expect(priv.template.toJSON().Resources[privId(prodExport)].DependsOn).toEqual(
      expect.arrayContaining([privId(priv.stack.functions.export.executionRole.node.findChild('DefaultPolicy') as never)]),
    );
  });

  it("grants the role the ENI actions of AWSLambdaVPCAccessExecutionRole, named, and no managed policy", () => {
    const eni = exportPolicy().filter((s) => [s.Action].flat().some((action) => action.startsWith('ec2:')));
    expect(eni).toHaveLength(1);
    expect(eni[0]!.Resource).toBe('*');
    expect([eni[0]!.Action].flat().filter((action) => action.startsWith('ec2:')).sort()).toEqual([
      'ec2:AssignPrivateIpAddresses',
      'ec2:CreateNetworkInterface',
      'ec2:DeleteNetworkInterface',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeSubnets',
      'ec2:UnassignPrivateIpAddresses',
    ]);
    const allActions = Object.values(privResources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: { Action: string | string[] }[] }).Statement.flatMap((s) => [s.Action].flat()));
    expect(allActions.filter((action) => action.includes('*'))).toEqual([]);
    expect(JSON.stringify(privResources)).not.toContain('AWSLambdaVPCAccessExecutionRole');
    // Without a private cluster the role gets no EC2 action at all.
    expect(JSON.stringify(template.toJSON())).not.toContain('ec2:');
  });

  it('routes that cluster to its own function in the export map, the others to the shared one', () => {
    const body = privResources[privId(priv.stack.workflows.backupRun)]!.Properties.DefinitionString as { 'Fn::Join': [string, unknown[]] };
    const text = body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : JSON.stringify(part))).join('');
    const asl = JSON.parse(text.replace(/\{"Fn::GetAtt":\["(\w+)","Arn"\]\}/g, '$1').replace(/\{"Ref":"([\w:]+)"\}/g, '$1')) as {
      States: { ExportClusters: { ItemProcessor: { StartAt: string; States: Record<string, Record<string, unknown>> } } };
    };
    const processor = asl.States.ExportClusters.ItemProcessor;
    expect(processor.StartAt).toBe('ExportFunctionOf?');
    expect(processor.States['ExportFunctionOf?']).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.cluster.name', StringEquals: 'prod', Next: 'ExportCluster-prod' }],
      Default: 'ExportCluster',
    });
    for (const [state, fn] of [['ExportCluster-prod', prodExport], ['ExportCluster', priv.stack.functions.export]] as const) {
      expect(processor.States[state], state).toMatchObject({
        Resource: privId(fn),
        Catch: [{ ErrorEquals: ['States.ALL'], Next: 'ExportFailed' }],
        Retry: expect.arrayContaining([expect.objectContaining({ ErrorEquals: ['States.TaskFailed', 'States.Timeout'] })]),
      });
    }
    // The state machine may invoke the function.
    expect(JSON.stringify(privResources)).toMatch(new RegExp(`"Action":"lambda:InvokeFunction","Effect":"Allow","Resource":\\[\\{"Fn::GetAtt":\\["${privId(prodExport)}","Arn"\\]\\}`));
  });

  it('alarms on its errors and throttles', () => {
    for (const metricName of ['Errors', 'Throttles']) {
      priv.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: metricName,
        Namespace: 'AWS/Lambda',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: privId(prodExport) } }],
      });
    }
  });

  it('has no unacknowledged cdk-nag findings and no CDK warnings', () => {
    expect(Annotations.fromStack(priv.stack).findWarning('*', Match.anyValue())).toEqual([]);
    expect(Annotations.fromStack(priv.stack).findError('*', Match.anyValue())).toEqual([]);
    const report = new AwsSolutionsChecks().validateScope(priv.stack);
    expect(report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.resourceLogicalId).join(',')}`)).toEqual([]);
    // The ENI actions' Resource "*" is acknowledged with its own reason (next to X-Ray's, with which the statement merges).
    const policy = priv.stack.functions.export.executionRole.node.findChild('DefaultPolicy').node.defaultChild!;
    const reasons = policy.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>));
    expect(reasons).toEqual(
      expect.arrayContaining([['Annotation::AwsSolutions-IAM5[Resource::*]', expect.stringMatching(/^(?=[\s\S]*X-Ray)(?=[\s\S]*network interfaces)/)]]),
    );
  });

  it('rejects a VPC without subnets', () => {
    expect(
      () => new BackupStack(new App(), 'Bad', baseProps({ clusters: [{ name: 'prod', region, namespace: 'argocd', vpc: { ...vpc, subnetIds: [] } }] })),
    ).toThrow(/^clusters: prod\.vpc needs at least one subnet/);
  });

  it('is wired from the config by the app: the sample config places prod-use1 in its VPC', () => {
    const { app: sampleApp } = createApp(
      { context: { ...cdkJson.context, config: fileURLToPath(new URL('../../config/argocd-dr.sample.json', import.meta.url)), 'aws:cdk:bundling-stacks': [] } },
      {},
    );
    const stacks = sampleApp.node.children.filter((child): child is BackupStack => child instanceof BackupStack);
    expect(Object.fromEntries(stacks.map((s) => [s.region, Object.keys(s.clusterExports)]))).toEqual({ 'us-east-1': ['prod-use1'], 'eu-central-1': [] });
  });
});
