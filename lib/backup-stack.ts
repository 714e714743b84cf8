import { ArnFormat, Duration, RemovalPolicy, Size, Stack, TimeZone, Token, type StackProps } from 'aws-cdk-lib';
import { CfnAccessEntry } from 'aws-cdk-lib/aws-eks';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import { BackupFunction, LAMBDA_VPC_ACTIONS } from './constructs/backup-function.js';
import { BackupMonitoring } from './constructs/backup-monitoring.js';
import { BackupWorkflows, WORK_PREFIX } from './constructs/backup-workflows.js';
import type { ClusterTarget } from './constructs/cluster-target.js';
import { acknowledgeBackupStackFindings } from './constructs/nag-acknowledgements.js';

export type { ClusterTarget, ClusterVpc } from './constructs/cluster-target.js';

/** The Kubernetes group the shipped RBAC manifest (deploy/rbac/argocd-dr-reader.yaml) binds read-only. */
export const READER_GROUP = 'argocd-dr-readers';

export interface BackupSchedules {
  /** EventBridge Scheduler expression of the backup run: `rate(1 hour)`, `cron(0 * * * ? *)`. */
  readonly backup: string;
  /** Expression of the weekly verify sweep, e.g. `cron(0 3 ? * SUN *)`. */
  readonly verifySweep: string;
  /** Time between backup runs; required for a cron() backup schedule, read from a rate() one. */
  readonly backupInterval?: Duration;
  /** IANA time zone of cron() expressions; UTC by default. */
  readonly timeZone?: string;
}

export interface BackupStackProps extends StackProps {
  /** The clusters in this stack's region. */
  readonly clusters: readonly ClusterTarget[];
  readonly vaultBucketName: string;
  /** Default: arn:<partition>:s3:::<vaultBucketName>. */
  readonly vaultBucketArn?: string;
  /**
   * The vault key. Optional: the vault's key policy admits the backup roles by ARN and the
   * bucket's default encryption applies the key, so a cross-region stack need not know it.
   */
  readonly vaultKeyArn?: string;
  readonly drRegion: string;
  readonly schedules: BackupSchedules;
  /** Ref patterns mirrored beyond those the Applications name (REFS). */
  readonly refs?: readonly string[];
  /** Repositories mirrored although no Application names them (EXTRA_REPOS). */
  readonly extraRepos?: readonly string[];
  /** Secrets Manager secret (name or ARN) holding credentials for repos Argo CD does not know (EXTRA_REPOS_SECRET). */
  readonly extraReposSecret?: string;
  readonly alarmEmails?: readonly string[];
  /** Repositories mirrored at once (Distributed Map MaxConcurrency). Default 10. */
  readonly mirrorConcurrency?: number;
  /** Bundles verified at once by the weekly sweep. Default: mirrorConcurrency. */
  readonly verifyConcurrency?: number;
  /** Retention of the functions' and state machines' logs. Default 3 months. */
  readonly logRetention?: RetentionDays;
  /** The longest a run may take before it is stopped and alarmed. Default 6 hours. */
  readonly runTimeout?: Duration;
  /** Role names the vault's policies admit; lib/config.ts's backupRoleName. */
  readonly roleName?: (purpose: BackupPurpose, region: string) => string;
  /** Bundling overrides for every function (tests). */
  readonly bundling?: Partial<BundlingOptions>;
}

export type BackupPurpose = 'export' | 'plan' | 'mirror' | 'verify' | 'report';

/** Fallback when the app passes no roleName: the same scheme lib/config.ts uses. */
export function defaultRoleName(purpose: BackupPurpose, region: string): string {
  return `argocd-dr-${purpose}-${region}`;
}

/** One per cluster region: the functions, the scheduled backup run and verify sweep, and their alarms. */
export class BackupStack extends Stack {
  readonly functions: Record<BackupPurpose, BackupFunction>;
  /** Export functions of the clusters with a private endpoint, in their VPC, by cluster name; they share the export role. */
  readonly clusterExports: Readonly<Record<string, BackupFunction>>;
  readonly workflows: BackupWorkflows;
  readonly monitoring: BackupMonitoring;
  readonly workBucket: Bucket;
  readonly schedules: { backupRun: Schedule; verifySweep: Schedule };

  constructor(scope: Construct, id: string, props: BackupStackProps) {
    super(scope, id, { description: 'argocd-dr: scheduled, alarmed backups of Argo CD and its Git repositories', ...props });
    validate(this, props);
    const region = this.region;
    const roleName = props.roleName ?? defaultRoleName;
    const logRetention = props.logRetention ?? RetentionDays.THREE_MONTHS;
    const mirrorConcurrency = props.mirrorConcurrency ?? 10;
    const vaultArn = props.vaultBucketArn ?? `arn:${this.partition}:s3:::${props.vaultBucketName}`;

    // Step Functions' ItemReader and ResultWriter only reach buckets in the state machine's own
    // region, and the vault is in another one: the item lists and map results stay here, briefly.
    this.workBucket = new Bucket(this, 'WorkBucket', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ id: 'expire-run-work', expiration: Duration.days(14), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
    });

    const common: Record<string, string> = {
      STORE: `s3://${props.vaultBucketName}`,
      VAULT_REGION: props.drRegion,
      ...(props.vaultKeyArn ? { KMS_KEY_ID: props.vaultKeyArn } : {}),
    };
    const work = { WORK_BUCKET: this.workBucket.bucketName };
    const fn = (purpose: BackupPurpose, sizing: Sizing, description: string, environment: Record<string, string>, extraEntries?: Record<string, string>) =>
      new BackupFunction(this, `${capitalize(purpose)}Function`, {
        handler: purpose,
        description,
        ...sizing,
        roleName: roleName(purpose, region),
        logRetention,
        environment: { ...common, ...environment },
        ...(extraEntries ? { extraEntries } : {}),
        ...(props.bundling ? { bundling: props.bundling } : {}),
      });

    const exportSizing: Sizing = { memorySize: 1024, timeout: Duration.minutes(5) };
    // Sizes from the benchmarks (bench/*.ts). Lambda gives CPU in proportion to memory (1 vCPU at 1,769 MB).
    this.functions = {
      // 10,000 Applications exported in ~2.5 s at ~300 MB RSS: 1 GB leaves room for larger Secrets and
      // CRDs and buys CPU for YAML serialisation; 5 min covers a slow API server's paging many times over.
      export: fn('export', exportSizing, 'Exports Argo CD objects of one cluster to the vault', {}),
      // One ls-refs per repository, network-bound with bounded concurrency: 512 MB; thousands of repos
      // over slow Git hosts can take minutes, so the full 15.
      plan: fn('plan', { memorySize: 512, timeout: Duration.minutes(15) }, 'Lists refs of every Git source; only changed repositories go on', {
        ...work,
        REFS: JSON.stringify(props.refs ?? []),
        EXTRA_REPOS: JSON.stringify(props.extraRepos ?? []),
        ...(props.extraReposSecret ? { EXTRA_REPOS_SECRET: props.extraReposSecret } : {}),
      }),
      // A 309 MB pack streamed in ~2.2 s at ~95 MB RSS: memory stays flat whatever the repo, the work is
      // network and SHA-1; 1 GB buys network and CPU share. 15 min for giant repos on slow hosts; /tmp unused.
      mirror: fn('mirror', { memorySize: 1024, timeout: Duration.minutes(15) }, 'Mirrors one Git repository into a bundle in the vault', {
        REFS: JSON.stringify(props.refs ?? []),
        ...(props.extraReposSecret ? { EXTRA_REPOS_SECRET: props.extraReposSecret } : {}),
      }),
      // A 309 MB pack verified in ~7.5 s at ~630 MB RSS with 2 worker threads, after downloading the
      // bundle to /tmp: 3,008 MB gets ~2 vCPUs for the two workers and headroom for bigger packs;
      // 10 GB /tmp holds multi-GB bundles; 15 min for the largest.
      verify: fn(
        'verify',
        { memorySize: 3008, timeout: Duration.minutes(15), ephemeralStorage: Size.gibibytes(10) },
        'Verifies one stored bundle: pack index, fsck checks, connectivity',
        {},
        // index-pack starts new Worker(new URL('./resolve-worker.js', import.meta.url)): next to index.mjs.
        { 'lambdas/git/verify/resolve-worker.ts': 'resolve-worker.js' },
      ),
      // Reads the run's result files and writes one report: small and short.
      report: fn('report', { memorySize: 256, timeout: Duration.minutes(2) }, 'Writes runs/<run-id>.json and emits the run metrics', work),
    };

    // A cluster whose API endpoint is private is exported from inside its VPC, by a function of its
    // own; it shares the export role, which the vault's policies and the access entries already name.
    // Besides the API endpoint the function calls EKS DescribeCluster (this region) and S3 in the DR
    // region (the EKS token is presigned locally, no STS call). The subnets therefore need a NAT
    // gateway, or VPC endpoints: an EKS interface endpoint here and, since the vault is in another
    // region, a route to S3 there (an S3 gateway endpoint here reaches only this region's buckets).
    // The security groups must allow egress on 443 to all of them and the cluster's must admit it.
    this.clusterExports = Object.fromEntries(
      props.clusters.flatMap((cluster) =>
        cluster.vpc
          ? [
              [
                cluster.name,
                // One scope per cluster: ids built from the name cannot collide with another cluster's.
                new BackupFunction(new Construct(this, `ClusterExport-${cluster.name}`), 'Function', {
                  handler: 'export',
                  label: `export-${cluster.name}`,
                  description: `Exports Argo CD objects of ${cluster.name} from inside its VPC (private API endpoint)`,
                  ...exportSizing,
                  role: this.functions.export.executionRole,
                  vpc: cluster.vpc,
                  logRetention,
                  environment: common,
                  ...(props.bundling ? { bundling: props.bundling } : {}),
                }),
              ] as const,
            ]
          : [],
      ),
    );

    this.grantLeastPrivilege(props, vaultArn);
    for (const cluster of props.clusters) {
      new CfnAccessEntry(this, `ExportAccess${capitalize(cluster.name)}`, {
        clusterName: cluster.name,
        principalArn: this.functions.export.executionRole.roleArn,
        type: 'STANDARD',
        kubernetesGroups: [READER_GROUP],
      });
    }

    this.workflows = new BackupWorkflows(this, 'Workflows', {
      functions: this.functions,
      clusterExports: this.clusterExports,
      clusters: props.clusters,
      workBucket: this.workBucket,
      mirrorConcurrency,
      verifyConcurrency: props.verifyConcurrency ?? mirrorConcurrency,
      runTimeout: props.runTimeout ?? Duration.hours(6),
      logRetention,
    });

    // One role for both schedules; each target grants it states:StartExecution on its machine only.
    const schedulerRole = new Role(this, 'SchedulerRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': this.account } } }),
      description: 'argocd-dr: starts the backup run and the verify sweep',
    });
    const timeZone = props.schedules.timeZone ? TimeZone.of(props.schedules.timeZone) : undefined;
    const schedule = (id: string, expression: string, machine: BackupWorkflows['backupRun'], description: string) =>
      new Schedule(this, id, {
        description,
        schedule: ScheduleExpression.expression(expression, timeZone),
        target: new StepFunctionsStartExecution(machine, { input: ScheduleTargetInput.fromObject({}), role: schedulerRole, retryAttempts: 3 }),
      });
    this.schedules = {
      backupRun: schedule('BackupRunSchedule', props.schedules.backup, this.workflows.backupRun, 'argocd-dr backup run'),
      verifySweep: schedule('VerifySweepSchedule', props.schedules.verifySweep, this.workflows.verifySweep, 'argocd-dr weekly verify sweep'),
    };

    this.monitoring = new BackupMonitoring(this, 'Monitoring', {
      functions: [...Object.values(this.functions), ...Object.values(this.clusterExports)],
      backupRun: this.workflows.backupRun,
      verifySweep: this.workflows.verifySweep,
      backupInterval: backupInterval(props.schedules),
      alarmEmails: props.alarmEmails ?? [],
    });

    acknowledgeBackupStackFindings(this, this.workBucket.node.defaultChild as CfnBucket);
  }

  /**
   * The secret's ARN. A name, or a partial ARN (without the six characters Secrets Manager appends, as the API
   * takes it too), gets that suffix as a wildcard; a full ARN is taken as it is.
   */
  private extraReposSecretArn(secret: string): string {
    if (secret.startsWith('arn:')) return /:secret:.+-[A-Za-z0-9]{6}$/.test(secret) ? secret : `${secret}-??????`;
    return this.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${secret}-??????`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  }

  private grantLeastPrivilege(props: BackupStackProps, vaultArn: string): void {
    const f = this.functions;
    // ListBucket lets a missing key answer 404 (the store's "no earlier backup") instead of 403.
    const list = new PolicyStatement({ actions: ['s3:ListBucket'], resources: [vaultArn] });
    const viaS3 = { StringEquals: { 'kms:ViaService': `s3.${props.drRegion}.amazonaws.com` } };
    // A folder ('runs/') grants everything under it; any other pattern is taken as it is ('git/*.json').
    const objects = (patterns: string[]) => patterns.map((pattern) => `${vaultArn}/${pattern}${pattern.endsWith('/') ? '*' : ''}`);
    const read = (prefixes: string[]) => [
      new PolicyStatement({ actions: ['s3:GetObject'], resources: objects(prefixes) }),
      ...(props.vaultKeyArn ? [new PolicyStatement({ actions: ['kms:Decrypt'], resources: [props.vaultKeyArn], conditions: viaS3 })] : []),
    ];
    const write = (prefixes: string[]) => [
      new PolicyStatement({ actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: objects(prefixes) }),
      // Multipart uploads under SSE-KMS decrypt the data key to complete: Decrypt too.
      ...(props.vaultKeyArn ? [new PolicyStatement({ actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'], resources: [props.vaultKeyArn], conditions: viaS3 })] : []),
    ];
    const grants: Record<BackupPurpose, PolicyStatement[]> = {
      export: [list, ...read(['argocd/']), ...write(['argocd/'])],
      plan: [list, ...read(['argocd/', 'git/', 'runs/']), ...write(['runs/'])],
      // mirror reads the exported repository Secrets (argocd/) for the credentials its item names.
      mirror: [list, ...read(['argocd/', 'git/']), ...write(['git/', 'runs/'])],
      // verify answers the run's restore-readiness questions (runs/<id>/applications.json, runs/readiness/).
      verify: [list, ...read(['git/', 'runs/']), ...write(['runs/'])],
      // report judges from the kept answers: the run's results, the clusters' manifests (not their exports, which
      // hold Argo CD's Secrets) and the repos' sidecars; it lists bundles, never reads one.
      report: [list, ...read(['runs/', 'argocd/*/manifest.json', 'git/*.json']), ...write(['runs/'])],
    };
    for (const [purpose, statements] of Object.entries(grants) as [BackupPurpose, PolicyStatement[]][]) {
      for (const statement of statements) f[purpose].executionRole.addToPrincipalPolicy(statement);
    }
    if (props.extraReposSecret) {
      // Plan lists refs and mirror fetches: both need the credentials, and only of this one secret.
      const secret = new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [this.extraReposSecretArn(props.extraReposSecret)] });
      for (const purpose of ['plan', 'mirror'] as const) f[purpose].executionRole.addToPrincipalPolicy(secret);
    }
    f.export.executionRole.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['eks:DescribeCluster'],
        resources: props.clusters.map((cluster) => this.formatArn({ service: 'eks', region: cluster.region, resource: 'cluster', resourceName: cluster.name })),
      }),
    );
    if (props.clusters.some((cluster) => cluster.vpc)) {
      // The VPC export functions' network interfaces, managed by Lambda with their (shared) role.
      f.export.executionRole.addToPrincipalPolicy(new PolicyStatement({ actions: [...LAMBDA_VPC_ACTIONS], resources: ['*'] }));
    }
    // Named actions only (Bucket.grantPut/grantRead would add s3:Abort*, s3:GetObject*, s3:List*).
    f.plan.executionRole.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:PutObject', 's3:AbortMultipartUpload'], resources: [this.workBucket.arnForObjects(`${WORK_PREFIX.items}*`)] }),
    );
    f.report.executionRole.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['s3:GetObject'], resources: [this.workBucket.arnForObjects('results/*')] }),
    );
  }
}

interface Sizing {
  memorySize: number;
  timeout: Duration;
  ephemeralStorage?: Size;
}

/** The backup interval from a rate() expression, or the configured one for cron(). */
export function backupInterval(schedules: BackupSchedules): Duration {
  if (schedules.backupInterval) return schedules.backupInterval;
  const rate = /^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$/.exec(schedules.backup.trim());
  if (!rate) {
    throw new Error(`schedules.backupInterval: required with ${JSON.stringify(schedules.backup)}; give the time between runs so a missing run can be alarmed`);
  }
  const amount = Number(rate[1]);
  const unit = rate[2]!;
  return unit.startsWith('minute') ? Duration.minutes(amount) : unit.startsWith('hour') ? Duration.hours(amount) : Duration.days(amount);
}

function validate(stack: Stack, props: BackupStackProps): void {
  if (props.clusters.length === 0) throw new Error('clusters: a backup stack needs at least one cluster in its region');
  if (!Token.isUnresolved(stack.region)) {
    const elsewhere = props.clusters.filter((cluster) => cluster.region !== stack.region);
    if (elsewhere.length > 0) {
      throw new Error(`clusters: ${elsewhere.map((c) => `${c.name} (${c.region})`).join(', ')} not in this stack's region ${stack.region}`);
    }
    if (props.drRegion === stack.region) throw new Error(`drRegion: ${props.drRegion} is also a cluster region; the vault must be in another region`);
  }
  const names = new Set<string>();
  for (const cluster of props.clusters) {
    if (names.has(cluster.name)) throw new Error(`clusters: ${cluster.name} is listed twice`);
    names.add(cluster.name);
    if (cluster.vpc && (cluster.vpc.subnetIds.length === 0 || cluster.vpc.securityGroupIds.length === 0)) {
      throw new Error(`clusters: ${cluster.name}.vpc needs at least one subnet and one security group`);
    }
  }
  const concurrency = props.mirrorConcurrency;
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 10_000)) {
    throw new Error(`concurrency.mirror: a whole number from 1 to 10000; got ${concurrency}`);
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.replace(/[^A-Za-z0-9]/g, '').slice(1);
}
