import { createApp } from '../lib/app.js';
import { ConfigError } from '../lib/config.js';

// The CDK CLI runs this (cdk.json "app"); the App synthesizes itself when the process is about to exit.
try {
  createApp();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`argocd-dr: ${error.message}\n`);
  // Exit now: waiting for beforeExit would let the half-built App synthesize an empty assembly.
  process.exit(2);
}
