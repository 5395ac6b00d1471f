/** Levenshtein edit distance (insertions, deletions, substitutions), O(a·b) time, O(b) memory. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The candidate a misspelt name most likely meant: the closest one within 2 edits (1 for names of
 * up to 5 characters), or undefined. Case is ignored.
 */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const upper = name.toUpperCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(upper, candidate.toUpperCase());
    const limit = candidate.length <= 5 ? 1 : 2;
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}
