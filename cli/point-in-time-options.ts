import type { Command } from 'commander';
import type { PointInTime } from '../lambdas/restore/point-in-time.js';
import { UsageError } from './usage-error.js';

export interface PointInTimeOptions {
  at?: string;
  run?: string;
}

/** --at and --run, worded the same for every command that reads an earlier backup. */
export function addPointInTimeOptions(command: Command): Command {
  return command
    .option('--at <time>', 'the newest backup at or before this ISO 8601 time with Z or an offset, e.g. 2026-03-01T12:00:00Z')
    .option('--run <run-id>', 'the backup as of when this backup run finished');
}

export function pointInTimeFrom(options: PointInTimeOptions): PointInTime {
  if (options.at !== undefined && options.run !== undefined) throw new UsageError('give --at or --run, not both');
  if (options.run !== undefined) return { runId: options.run };
  if (options.at === undefined) return {};
  const at = new Date(options.at);
  if (!/^\d{4}-\d\d-\d\d/.test(options.at) || Number.isNaN(at.getTime())) throw new UsageError(`--at "${options.at}" is not an ISO 8601 time, e.g. 2026-03-01T12:00:00Z`);
  // Without a zone JavaScript reads the time as local, and history prints UTC: an hour or more off, silently.
  if (!/(?:Z|[+-]\d\d(?::?\d\d)?)$/i.test(options.at.trim())) {
    throw new UsageError(`--at "${options.at}" has no time zone: add Z for UTC (as argocd-dr history prints times) or an offset, e.g. ${options.at.trim()}Z or ${options.at.trim()}+02:00`);
  }
  return { at };
}
