/**
 * Secrets must never reach output, logs or error messages. Known secret values are registered as
 * they are read; the patterns catch the shapes we know (API tokens, JWTs, Basic/Bearer headers)
 * even when they were never registered.
 */
const knownSecrets = new Set<string>()

const PATTERNS: RegExp[] = [
  /tk-us-[A-Za-z0-9_-]+/g,
  /\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g,
  /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi,
]

export const REDACTED = '[REDACTED]'

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6) knownSecrets.add(value)
}

export function redact(text: string): string {
  let out = text
  for (const secret of knownSecrets) out = out.split(secret).join(REDACTED)
  for (const pattern of PATTERNS) {
    out = out.replace(pattern, (match, scheme?: string) =>
      typeof scheme === 'string' && /^(bearer|basic)$/i.test(scheme) ? `${scheme} ${REDACTED}` : REDACTED,
    )
  }

  return out
}
