import { App, Duration, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BackupStack } from './backup-stack.js';
import {
  backupIntervalMinutes, backupRegions, backupRoleArns, backupRoleName, loadConfig, vaultBucketName, type ArgocdDrConfig, type LoadConfigOptions,
} from './config.js';
import { VaultStack } from './vault-stack.js';

export const VAULT_STACK_ID = 'ArgocdDrVault';

/** The DR-region vault, admitting every backup role (`backupRoleName(purpose, region)`) and the operator roles. */
export function createVault(app: App, config: ArgocdDrConfig): VaultStack {
  return new VaultStack(app, VAULT_STACK_ID, {
    env: { account: config.account, region: config.drRegion },
    bucketName: vaultBucketName(config),
    noncurrentVersionDays: config.retention.noncurrentVersionDays,
    objectLock: config.objectLock,
    writerRoleArns: backupRoleArns(config),
    readerRoleArns: config.operatorRoleArns,
  });
}

/** Builds the argocd-dr CDK app; bin/app.ts runs it and the tests synthesize it with their own context. */
export function createApp(
  props: AppProps = {},
  env: NodeJS.ProcessEnv = process.env,
  options: Omit<LoadConfigOptions, 'env'> = {},
): { app: App; config: ArgocdDrConfig; vault: VaultStack } {
  const app = new App(props);
  const config = loadConfig(app, { ...options, env });
  const vault = createVault(app, config);

  // One backup stack per cluster region. They name their roles backupRoleName(purpose, region) and
  // the bucket vaultBucketName(config), which the vault already admits: no cross-region reference.
  for (const region of backupRegions(config)) {
    new BackupStack(app, `ArgocdDrBackup-${region}`, {
      env: { account: config.account, region },
      clusters: config.clusters.filter((cluster) => cluster.region === region).map(({ name, namespace, vpc }) => ({ name, region, namespace, vpc })),
      vaultBucketName: vaultBucketName(config),
      drRegion: config.drRegion,
      schedules: {
        backup: config.schedules.backup,
        verifySweep: config.schedules.verifySweep,
        backupInterval: Duration.minutes(backupIntervalMinutes(config.schedules)),
      },
      refs: config.refs,
      extraRepos: config.extraRepos,
      ...(config.extraReposSecret ? { extraReposSecret: config.extraReposSecret } : {}),
      alarmEmails: config.alarmEmails,
      mirrorConcurrency: config.concurrency.mirror,
      roleName: backupRoleName,
    });
  }

  // cdk-nag 3 runs as a policy-validation plugin: an unacknowledged error fails the synth.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, config, vault };
}
