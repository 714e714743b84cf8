import { Stack, Validations } from 'aws-cdk-lib';
import { CfnPolicy } from 'aws-cdk-lib/aws-iam';
import type { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference.js';
import { LAMBDA_VPC_ACTIONS } from './backup-function.js';

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/**
 * Why each wildcard *resource* in this stack's policies is acceptable (no policy has a wildcard
 * action). A wildcard that matches none of these stays a cdk-nag error, so a new one needs a reason here.
 */
const WILDCARD_REASONS: { when: (actions: string[], resource: string) => boolean; reason: string }[] = [
  {
    when: (actions, resource) =>
      resource === '*' &&
      actions.every((action) => /^xray:(PutTraceSegments|PutTelemetryRecords|GetSamplingRules|GetSamplingTargets)$|^logs:(\w+LogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)$/.test(action)),
    reason:
      'X-Ray tracing (PutTraceSegments, PutTelemetryRecords, GetSampling*) and Step Functions log delivery (CreateLogDelivery, DescribeResourcePolicies, ...) support no resource-level permissions; AWS documents Resource "*" for them.',
  },
  {
    when: (actions, resource) => resource === '*' && actions.every((action) => (LAMBDA_VPC_ACTIONS as readonly string[]).includes(action)),
    reason:
      "Lambda creates, describes and deletes the network interfaces of the export functions placed in a private cluster's VPC with their role (AWSLambdaVPCAccessExecutionRole's EC2 actions, named): ec2:CreateNetworkInterface and the Describe actions take no narrower resource, and the interfaces' ids exist only once Lambda creates them.",
  },
  {
    when: (actions, resource) => actions.every((action) => action === 'lambda:InvokeFunction') && /\.Arn>:\*$/.test(resource),
    reason: 'Added by the LambdaInvoke task: the named backup function and its versions/aliases (<function ARN>:*), nothing else.',
  },
  {
    when: (_actions, resource) => /:execution:.*(:\*|\/\w+:\*)$/.test(resource),
    reason: "The Distributed Map starts, describes and stops its own child executions, whose names Step Functions generates at run time: executions of this state machine only.",
  },
  {
    when: (actions, resource) => actions.every((action) => action.startsWith('s3:') && !action.includes('*')) && /\/(argocd|git|runs)\/\*$/.test(resource),
    reason: 'Object keys under one vault prefix (argocd/, git/ or runs/) the function owns; the S3 actions are named, not wildcards.',
  },
  {
    when: (actions, resource) => actions.every((action) => action === 's3:GetObject') && /\/(argocd\/\*\/manifest\.json|git\/\*\.json)$/.test(resource),
    reason: "The report function reads each cluster's manifest.json (never its export, which holds Argo CD's Secrets) and each repository's sidecar (never a bundle): one file name under one vault prefix, read only.",
  },
  {
    when: (actions, resource) => actions.every((action) => action.startsWith('s3:') && !action.includes('*')) && /WorkBucket.*\/(\*|runs\/\*|results\/\*)$/.test(resource),
    reason: "Object keys of this stack's own work bucket (run item lists and Distributed Map results, unknown until run time); the S3 actions are named.",
  },
];

/**
 * The reason of the rule that covers every action on `resource`; for a statement that merges several
 * (minimizePolicies joins statements on the same resource, e.g. X-Ray and ENI actions on "*"), the
 * reasons of the rules that together cover each action. Undefined when an action is left uncovered.
 */
function wildcardReason(actions: string[], resource: string): string | undefined {
  const whole = WILDCARD_REASONS.find(({ when }) => when(actions, resource));
  if (whole) return whole.reason;
  const rules = new Set<(typeof WILDCARD_REASONS)[number]>();
  for (const action of actions) {
    const rule = WILDCARD_REASONS.find(({ when }) => when([action], resource));
    if (!rule) return undefined;
    rules.add(rule);
  }
  return [...rules].map((rule) => rule.reason).join(' ');
}

/** Acknowledges the stack's cdk-nag findings that are deliberate, each with its reason. */
export function acknowledgeBackupStackFindings(stack: Stack, workBucket: CfnBucket): void {
  Validations.of(workBucket).acknowledge({
    id: 'AwsSolutions-S1',
    reason:
      'Holds only machine-written run item lists and map results that expire after 14 days; the backups and their access logs are in the vault bucket.',
  });
  for (const policy of stack.node.findAll().filter((node): node is CfnPolicy => node instanceof CfnPolicy)) {
    const document = stack.resolve(policy.policyDocument) as { Statement?: Statement[] };
    const acknowledged = new Set<string>();
    for (const statement of document.Statement ?? []) {
      if (statement.Effect !== 'Allow') continue;
      const actions = [statement.Action].flat();
      for (const resource of [statement.Resource].flat().map(flattenCfnReference)) {
        if (!resource.includes('*')) continue;
        const id = `AwsSolutions-IAM5[Resource::${resource}]`;
        const reason = wildcardReason(actions, resource);
        if (!reason || acknowledged.has(id)) continue;
        acknowledged.add(id);
        Validations.of(policy).acknowledge({ id, reason });
      }
    }
  }
}
