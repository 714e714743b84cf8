/** One thing a check found, named by git's fsck message id where git has one (see fsck.ts). */
export interface Finding {
  /** git's camelCase message id (e.g. badTimezone), or one of argocd-dr's own (e.g. packTruncated). */
  id: string;
  message: string;
  /** Hex id of the object concerned, when there is one. */
  object?: string;
}

/** The outcome of verifying one bundle, as `argocd-dr verify --json` prints it. */
export interface BundleReport {
  /** The bundle as the user named it: a file path or a store key. */
  bundle: string;
  ok: boolean;
  objects: number;
  errors: Finding[];
  warnings: Finding[];
  seconds: number;
}

/** Quotes text taken from a damaged file for a message: anything not printable ASCII becomes \xNN. */
export function quoteBytes(text: string, max = 120): string {
  const clipped = text.length > max ? `${text.slice(0, max)}…` : text;
   
  return `"${clipped.replace(/[^\x20-\x7e…]|["\\]/g, (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\x${(c.charCodeAt(0) & 0xff).toString(16).padStart(2, '0')}`))}"`;
}
