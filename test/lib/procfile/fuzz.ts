/** A small seeded PRNG (mulberry32) so fuzz failures reproduce without a dependency. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** Random text built from interesting fragments and random code units (lone surrogates included). */
export function randomText(random: () => number, fragments: string[], maxParts = 30): string {
  const parts: string[] = []
  const count = Math.floor(random() * maxParts)
  for (let i = 0; i < count; i++) {
    parts.push(
      random() < 0.8
        ? fragments[Math.floor(random() * fragments.length)]
        : String.fromCharCode(Math.floor(random() * 0xffff)),
    )
  }

  return parts.join('')
}
