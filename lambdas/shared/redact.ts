/**
 * Last line of defence for messages that may quote something a server or library said: every
 * known secret value (and its base64 forms, as sent in Basic auth headers) becomes `***`.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let result = text;
  for (const secret of secrets) {
    if (!secret || secret.length < 4) continue;
    for (const form of [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')]) {
      result = result.split(form).join('***');
    }
  }
  return result;
}
