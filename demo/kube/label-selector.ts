/** One requirement of a label selector, as apimachinery's labels.Requirement. */
export interface LabelRequirement {
  key: string;
  operator: '=' | '!=' | 'exists' | '!' | 'in' | 'notin';
  values: string[];
}

/** A selector the API server cannot parse; answered with 400 BadRequest. */
export class LabelSelectorError extends Error {}

// Label keys: optional DNS-subdomain prefix and a name of up to 63 characters; values may be empty.
const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Parses the labelSelector query parameter: equality (=, ==, !=), existence (k, !k) and set (in, notin) terms, comma-joined. */
export function parseLabelSelector(text: string): LabelRequirement[] {
  const requirements: LabelRequirement[] = [];
  for (const term of splitTerms(text)) {
    const trimmed = term.trim();
    if (trimmed === '') {
      if (text.trim() === '') continue;
      throw new LabelSelectorError(`unable to parse requirement: found '', expected: identifier`);
    }
    requirements.push(parseTerm(trimmed));
  }
  return requirements;
}

/** True when every requirement holds for these labels (an empty selector matches everything). */
export function matchesLabels(requirements: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  for (const { key, operator, values } of requirements) {
    const value = labels?.[key];
    switch (operator) {
      case '=': if (value !== values[0]) return false; break;
      // As in Kubernetes, != and notin also match objects without the label.
      case '!=': if (value === values[0]) return false; break;
      case 'exists': if (value === undefined) return false; break;
      case '!': if (value !== undefined) return false; break;
      case 'in': if (value === undefined || !values.includes(value)) return false; break;
      case 'notin': if (value !== undefined && values.includes(value)) return false; break;
    }
  }
  return true;
}

// Commas separate terms except inside the parentheses of in/notin.
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms;
}

function parseTerm(term: string): LabelRequirement {
  const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term);
  if (set) {
    const values = set[3]!.split(',').map((v) => v.trim());
    return requirement(set[1]!, set[2] as 'in' | 'notin', values);
  }
  if (term.startsWith('!')) return requirement(term.slice(1).trim(), '!', []);
  const equality = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
  if (equality) {
    const operator = equality[2] === '!=' ? '!=' : '=';
    return requirement(equality[1]!, operator, [equality[3]!.trim()]);
  }
  return requirement(term, 'exists', []);
}

function requirement(key: string, operator: LabelRequirement['operator'], values: string[]): LabelRequirement {
  if (!KEY.test(key) || key.length > 316) {
    throw new LabelSelectorError(`unable to parse requirement: values[0][${key}]: Invalid value: "${key}": name part must consist of alphanumeric characters, '-', '_' or '.'`);
  }
  for (const value of values) {
    if (!VALUE.test(value) || value.length > 63) {
      throw new LabelSelectorError(`unable to parse requirement: values[0][${key}]: Invalid value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'`);
    }
  }
  return { key, operator, values };
}
