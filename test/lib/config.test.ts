import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../lib/config.js';

function context(values: Record<string, unknown>) {
  return { tryGetContext: (key: string) => values[key] };
}

describe('loadConfig', () => {
  it('reads drRegion and account from context', () => {
    expect(loadConfig(context({ drRegion: 'eu-west-1', account: '012345678901' }), {})).toEqual({
      drRegion: 'eu-west-1',
      account: '012345678901',
    });
  });

  it('falls back to CDK_DEFAULT_ACCOUNT, with context taking precedence', () => {
    const env = { CDK_DEFAULT_ACCOUNT: '222222222222' };
    expect(loadConfig(context({ drRegion: 'us-west-2' }), env).account).toBe('222222222222');
    expect(loadConfig(context({ drRegion: 'us-west-2', account: '333333333333' }), env).account).toBe('333333333333');
  });

  it('never takes drRegion from CDK_DEFAULT_REGION', () => {
    expect(() => loadConfig(context({ account: '111111111111' }), { CDK_DEFAULT_REGION: 'us-east-1' })).toThrow(
      /^drRegion: missing/,
    );
  });

  it.each(['us-gov-west-1', 'cn-north-1', 'ap-southeast-5', 'us-isob-east-1', 'il-central-1'])('accepts region %s', (drRegion) => {
    expect(loadConfig(context({ drRegion, account: '111111111111' }), {}).drRegion).toBe(drRegion);
  });

  it.each([['EU-WEST-1'], ['eu-west'], ['eu_west_1'], [' eu-west-1'], [42]])('rejects drRegion %j, naming the field', (drRegion) => {
    expect(() => loadConfig(context({ drRegion, account: '111111111111' }), {})).toThrow(/^drRegion: .* is not an AWS region/);
  });

  it('names account when it is missing', () => {
    expect(() => loadConfig(context({ drRegion: 'eu-west-1' }), {})).toThrow(/^account: missing.*CDK_DEFAULT_ACCOUNT/);
    expect(() => loadConfig(context({ drRegion: 'eu-west-1', account: '' }), {})).toThrow(/^account: missing/);
    // bin/app.ts prints these as one line instead of a stack trace.
    expect(() => loadConfig(context({ drRegion: 'eu-west-1' }), {})).toThrow(ConfigError);
  });

  it.each([['12345678901'], ['1234567890123'], ['12345678901a'], [123456789012]])('rejects account %j, naming the field', (account) => {
    expect(() => loadConfig(context({ drRegion: 'eu-west-1', account }), {})).toThrow(/^account: .* is not a 12-digit/);
  });
});
