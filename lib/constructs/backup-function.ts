import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Annotations, Duration, Fn, RemovalPolicy, Size } from 'aws-cdk-lib';
import { SecurityGroup, Subnet, Vpc } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing, LoggingFormat, type FunctionProps } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lambdas/shared/metrics.js';
import type { ClusterVpc } from './cluster-target.js';

/**
 * What AWSLambdaVPCAccessExecutionRole grants besides logs, as named actions: Lambda creates, reads
 * and deletes a VPC function's network interfaces with the function's role. They take Resource "*"
 * (Create/Describe support no narrower resource, and the interfaces' ids exist only at run time).
 */
export const LAMBDA_VPC_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
] as const;

/** The repository root (holds package-lock.json), from lib/ under vitest or dist/lib/ when compiled. */
export const PROJECT_ROOT = findProjectRoot(path.dirname(fileURLToPath(import.meta.url)));

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package-lock.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`No package-lock.json above ${from}: cannot locate the project to bundle the functions`);
  }
}

// ESM bundles have no `require`; some CommonJS dependencies still call it for node built-ins.
const REQUIRE_SHIM = "import { createRequire as __argocdDrRequire } from 'node:module'; const require = __argocdDrRequire(import.meta.url);";

export interface BackupFunctionProps {
  /** Handler file under lambdas/handlers/, without extension: export, plan, mirror, verify, report. */
  readonly handler: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  /** /tmp size; Lambda's default 512 MB when omitted. */
  readonly ephemeralStorage?: Size;
  /** Deterministic role name, so the vault's bucket and key policies can name it before it exists. */
  readonly roleName?: string;
  /** Instead of a new role named roleName: the role of another function (which the vault already admits). */
  readonly role?: Role;
  /**
   * Runs the function in this VPC. The ENI permissions Lambda needs (LAMBDA_VPC_ACTIONS) are not
   * added here: the role may be shared, and the stack grants them once.
   */
  readonly vpc?: ClusterVpc;
  /** Names the function in alarms and graphs; default: the handler. */
  readonly label?: string;
  readonly logRetention: RetentionDays;
  readonly environment?: Record<string, string>;
  /** Extra files to build next to index.mjs (entry path relative to the project → output file name). */
  readonly extraEntries?: Record<string, string>;
  /** Overrides merged into the bundling defaults (tests may turn minification off, for instance). */
  readonly bundling?: Partial<BundlingOptions>;
}

/**
 * Every default a backup function needs, in one place (as Powertools' FunctionWithLogGroup): Node 24
 * on arm64, local esbuild ESM bundle with source maps, its own log group, X-Ray, Powertools settings
 * and a named role that holds only what the stack grants it.
 */
export class BackupFunction extends NodejsFunction {
  /** The function's named role (Function.role, but never undefined). */
  readonly executionRole: Role;
  readonly logs: LogGroup;
  readonly handlerName: string;
  /** The handler, or the label given (one per function of a stack). */
  readonly label: string;

  constructor(scope: Construct, id: string, props: BackupFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      // Logs of a removed function help nobody; the backups themselves live in the vault.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    if ((props.role === undefined) === (props.roleName === undefined)) {
      throw new Error(`${id}: give exactly one of roleName (a new role) and role (a shared one)`);
    }
    const role =
      props.role ??
      new Role(scope, `${id}Role`, {
        roleName: props.roleName,
        description: `argocd-dr ${props.handler} function`,
        assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      });
    // Instead of AWSLambdaBasicExecutionRole (any log group): only this function's own group.
    role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    );
    const entries = props.extraEntries ?? {};
    super(scope, id, {
      description: props.description,
      entry: path.join(PROJECT_ROOT, 'lambdas', 'handlers', `${props.handler}.ts`),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      ...(props.ephemeralStorage ? { ephemeralStorageSize: props.ephemeralStorage } : {}),
      role,
      ...(props.vpc ? vpcPlacement(scope, id, props.vpc) : {}),
      logGroup,
      loggingFormat: LoggingFormat.JSON,
      tracing: Tracing.ACTIVE,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        banner: REQUIRE_SHIM,
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        sourcesContent: false,
        // Bundle the AWS SDK too: the versions the tests ran against, not the runtime's. ssh2's native
        // speed-ups are optional (it requires them in try/catch and falls back to node:crypto).
        externalModules: ['cpu-features', '*.node'],
        // ssh2 reads __dirname when it loads, which an ES module does not have.
        define: { __dirname: 'import.meta.dirname' },
        forceDockerBundling: false,
        ...(Object.keys(entries).length > 0 ? { commandHooks: extraEntryHooks(entries) } : {}),
        ...props.bundling,
      },
    });
    this.executionRole = role;
    this.logs = logGroup;
    this.handlerName = props.handler;
    this.label = props.label ?? props.handler;
  }
}

/**
 * The VPC, subnets and security groups imported by id: no lookup, so synth needs no credentials.
 * The VPC's availability zones are left to CloudFormation (Fn::GetAZs), which the template never
 * needs: nothing reads them when the subnets are given.
 */
function vpcPlacement(scope: Construct, id: string, placement: ClusterVpc): Pick<FunctionProps, 'vpc' | 'vpcSubnets' | 'securityGroups'> {
  const vpc = Vpc.fromVpcAttributes(scope, `${id}Vpc`, { vpcId: placement.vpcId, availabilityZones: Fn.getAzs() });
  Annotations.of(vpc).acknowledgeWarning(
    '@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones',
    'The subnets are given by id: nothing selects subnets by availability zone at synthesis time.',
  );
  return {
    vpc,
    vpcSubnets: {
      subnets: placement.subnetIds.map((subnetId, i) => {
        const subnet = Subnet.fromSubnetId(scope, `${id}Subnet${i}`, subnetId);
        Annotations.of(subnet).acknowledgeWarning('@aws-cdk/aws-ec2:noSubnetRouteTableId', 'The route tables are the operator\'s; nothing in the stack reads or adds routes.');
        return subnet;
      }),
    },
    // Immutable: the groups are the operator's; the stack adds no rules to them.
    securityGroups: placement.securityGroupIds.map((groupId, i) =>
      SecurityGroup.fromSecurityGroupId(scope, `${id}SecurityGroup${i}`, groupId, { mutable: false }),
    ),
  };
}

/** esbuild each extra entry into the bundle directory, as ESM like index.mjs. */
function extraEntryHooks(entries: Record<string, string>): NonNullable<BundlingOptions['commandHooks']> {
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (inputDir: string, outputDir: string) => [
      ...Object.entries(entries).map(
        ([entry, outfile]) =>
          `"${path.join(inputDir, 'node_modules', '.bin', 'esbuild')}" "${path.join(inputDir, entry)}" --bundle --platform=node --format=esm ` +
          `--target=node24 --main-fields=module,main --minify --sourcemap --sources-content=false --log-level=warning ` +
          `"--banner:js=${REQUIRE_SHIM}" "--outfile=${path.join(outputDir, outfile)}"`,
      ),
      // A plain .js next to index.mjs must load as ESM too.
      `echo '{"type":"module"}' > "${path.join(outputDir, 'package.json')}"`,
    ],
  };
}
