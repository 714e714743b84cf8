/**
 * The namespaces Argo CD watches besides its own, from argocd-cmd-params-cm
 * (`application.namespaces`, `applicationsetcontroller.namespaces`): comma-separated globs, or
 * regular expressions written as /…/, as Argo CD matches them.
 */
export function namespaceMatcher(setting: string | undefined): (namespace: string) => boolean {
  const patterns = (setting ?? '').split(',').map((pattern) => pattern.trim()).filter(Boolean).map(toRegExp);
  return (namespace) => patterns.some((pattern) => pattern.test(namespace));
}

function toRegExp(pattern: string): RegExp {
  if (pattern.length > 2 && pattern.startsWith('/') && pattern.endsWith('/')) {
    try {
      return new RegExp(pattern.slice(1, -1));
    } catch {
      return /(?!)/;
    }
  }
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) source += '\\[';
      else {
        const body = pattern.slice(i + 1, end);
        source += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else if (c === '{') {
      const end = pattern.indexOf('}', i + 1);
      if (end < 0) source += '\\{';
      else {
        source += `(?:${pattern.slice(i + 1, end).split(',').map(escape).join('|')})`;
        i = end;
      }
    } else source += escape(c);
  }
  return new RegExp(`^${source}$`);
}

function escape(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\*]/g, '\\$&');
}
