/** A target's servers in words: `3 primaries + 3 replicas`, `1 primary, no replicas`, or, behind a proxy, that they cannot be seen. */
export function rolesText(t: { readonly mode: string; readonly primaries: number; readonly replicas: number }): string {
  if (t.mode === 'proxy') return 'servers behind the proxy not visible to the client';
  const primaries = `${t.primaries} ${t.primaries === 1 ? 'primary' : 'primaries'}`;
  const replicas = t.replicas === 0 ? 'no replicas' : `${t.replicas} ${t.replicas === 1 ? 'replica' : 'replicas'}`;
  return t.replicas === 0 ? `${primaries}, ${replicas}` : `${primaries} + ${replicas}`;
}
