/**
 * One place that keeps credentials out of everything cachebench writes. Free text from outside (server replies, error
 * messages, command output) is passed through `redactSecrets` where it enters a result (`redactedMessage`), so the
 * results document never holds a password and the files rendered from it are written as they are: a substring pass
 * over structured output would edit its structure (a password `true` or `stats` in results.json). Console output,
 * progress and error messages (text, not structure) pass through it once more on their way out.
 *
 * Two layers: (1) structural: URL credentials (`redis://user:pass@host`, also when the password
 * holds `/`, `@` or `:`) and `…PASSWORD=value` / `…PASSWORD:value` items; (2) every password value
 * the configuration saw (env, --envVars, URLs) is registered and replaced wherever it appears.
 */
const secrets = new Set<string>();

/** Shortest secret replaced wherever it appears; shorter ones only structurally (else "a" would eat every a). */
export const MIN_REGISTERED_SECRET = 4;

/** Remembers a password so that it is masked wherever it appears later. */
export function registerSecret(value: string | undefined): void {
  if (value === undefined || value.length < MIN_REGISTERED_SECRET) return;
  secrets.add(value);
  const encoded = encodeURIComponent(value);
  if (encoded !== value) secrets.add(encoded);
}

/**
 * URL credentials: everything between `scheme://` and the last `@` before the host, up to the next
 * separator (white space, comma, quote). The user name is kept, the password masked.
 */
const URL_CREDENTIALS = /\b(rediss?|memcached|https?):\/\/([^\s,"'<>]*)@(?=[^\s,"'<>@]*)/gi;
const PASSWORD_ITEM = /\b([A-Za-z0-9_]*PASSWORD)(=|:(?!\s*\{))("[^"]*"|'[^']*'|[^\s,;"']+)/gi;

export function redactSecrets(text: string): string {
  let out = text.replace(URL_CREDENTIALS, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    const user = colon >= 0 ? userinfo.slice(0, colon) : '';
    return `${scheme}://${user ? `${user}:` : ''}***@`;
  });
  out = out.replace(PASSWORD_ITEM, (_m, key: string, sep: string) => `${key}${sep}***`);
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
  return out;
}

/** An error's message (or any thrown value as text) with credentials masked: how outside text enters a result. */
export function redactedMessage(error: unknown): string {
  return redactSecrets(error instanceof Error ? error.message : String(error));
}

/** Forgets every registered secret (tests). */
export function clearSecrets(): void {
  secrets.clear();
}
