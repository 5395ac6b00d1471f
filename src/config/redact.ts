/**
 * One place that keeps credentials out of everything cachebench writes: errors, console output,
 * progress, report files, exports and the CI step summary all pass through `redactSecrets`.
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

/** Forgets every registered secret (tests). */
export function clearSecrets(): void {
  secrets.clear();
}
