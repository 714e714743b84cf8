import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadConfig } from './config.js';
import { VaultStack } from './vault-stack.js';

export const VAULT_STACK_ID = 'ArgocdDrVault';

/** Builds the argocd-dr CDK app; bin/app.ts runs it and the tests synthesize it with their own context. */
export function createApp(props: AppProps = {}, env: NodeJS.ProcessEnv = process.env): { app: App; vault: VaultStack } {
  const app = new App(props);
  const { account, drRegion } = loadConfig(app.node, env);
  const vault = new VaultStack(app, VAULT_STACK_ID, { env: { account, region: drRegion } });
  // cdk-nag 3 runs as a policy-validation plugin: an unacknowledged error fails the synth.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, vault };
}
