import packageJson from '../../package.json' with { type: 'json' };

/** argocd-dr's version, recorded in every sidecar and report. */
export const TOOL_VERSION: string = packageJson.version;
export const TOOL_NAME = `argocd-dr ${TOOL_VERSION}`;
