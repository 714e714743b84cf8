import { Command, CommanderError } from 'commander';
import { registerBackupCommand } from '../cli/backup-command.js';
import { registerDemoCommand } from '../cli/demo-command.js';
import { registerExportCommand } from '../cli/export-command.js';
import { registerHistoryCommand } from '../cli/history-command.js';
import { registerMirrorCommand } from '../cli/mirror-command.js';
import { registerRestoreCommand } from '../cli/restore-command.js';
import { registerRestoreGitCommand } from '../cli/restore-git-command.js';
import { UsageError } from '../cli/usage-error.js';
import { registerVerifyCommand } from '../cli/verify-command.js';
import { TOOL_VERSION } from '../lambdas/shared/version.js';

// Exit codes: 0 all good, 1 something failed (the output says what), 2 usage or configuration.
const program = new Command('argocd-dr')
  .description('Disaster recovery for Argo CD: mirror, verify and restore its Git repositories and state.')
  .version(TOOL_VERSION)
  .showHelpAfterError('(add --help for usage)')
  .exitOverride();
registerBackupCommand(program);
registerDemoCommand(program);
registerExportCommand(program);
registerHistoryCommand(program);
registerMirrorCommand(program);
registerRestoreCommand(program);
registerRestoreGitCommand(program);
registerVerifyCommand(program);
for (const command of program.commands) command.exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else if (error instanceof UsageError) {
    process.stderr.write(`argocd-dr: ${error.message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`argocd-dr: unexpected error: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
