/**
 * Secrets must never reach output, logs or error messages. Known secret values are registered as
 * they are read; the patterns catch the shapes we know (API tokens, JWTs, Basic/Bearer headers)
 * even when they were never registered.
 *
 * redact() runs on every line an instance prints, so it must stay linear in the line's length
 * whatever the line holds: a regular expression for JWTs (`\beyJ[…]+\.[…]+\.[…]*`) backtracks
 * from every `eyJ` to the end of the run of base64url characters, quadratic on `eyJ-eyJ-eyJ-…`
 * (2.4 s for one 64 KB line, the whole gateway's event loop stalled meanwhile). JWTs are found by
 * the scanner below instead; the two remaining expressions cannot backtrack across more than the
 * text that follows one literal match, so they stay linear.
 */
const knownSecrets = new Set<string>()

const TOKEN = /tk-us-[A-Za-z0-9_-]+/g
const AUTHORIZATION = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi

export const REDACTED = '[REDACTED]'

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6) knownSecrets.add(value)
}

export function redact(text: string): string {
  let out = text
  for (const secret of knownSecrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED)
  if (out.includes('tk-us-')) out = replaceEach(out, TOKEN, () => REDACTED)
  if (out.includes('eyJ')) out = redactJwts(out)
  return replaceEach(out, AUTHORIZATION, (match) => `${match[1]} ${REDACTED}`)
}

/**
 * String.prototype.replace() with an exec() loop: the same result, but V8's replace builds its
 * result in a way that grows faster than linearly with the number of matches (`Bearer Bearer …`:
 * 1 ms for 64 KB, 200 ms for 1 MB), and concatenating the pieces does not.
 */
function replaceEach(text: string, pattern: RegExp, replacement: (match: RegExpExecArray) => string): string {
  pattern.lastIndex = 0
  let out = ''
  let copied = 0
  let match: RegExpExecArray | null
  let matched = false
  while ((match = pattern.exec(text)) !== null) {
    out += text.slice(copied, match.index) + replacement(match)
    copied = pattern.lastIndex
    matched = true
  }

  return matched ? out + text.slice(copied) : text
}

/** A base64url character: `[A-Za-z0-9_-]`. */
function isBase64Url(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x5f ||
    code === 0x2d
  )
}

/** A regular-expression word character (`\w`): base64url without `-`. */
function isWord(code: number): boolean {
  return code !== 0x2d && isBase64Url(code)
}

/** Where the run of base64url characters starting at `from` ends. */
function runEnd(text: string, from: number): number {
  let i = from
  while (i < text.length && isBase64Url(text.charCodeAt(i))) i++
  return i
}

/**
 * Replaces what `/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\/g` matches, in one pass.
 * From a candidate `eyJ`, each segment can only be the whole run of base64url characters (a `.`
 * must follow it), so the match is decided by three runs. When it fails, every later `eyJ` in the
 * same first run ends that run at the same place and fails too: the scan resumes after the run,
 * so each character is looked at a bounded number of times.
 */
function redactJwts(text: string): string {
  let out = ''
  let copied = 0
  let matched = false
  let from = 0
  let at: number
  while ((at = text.indexOf('eyJ', from)) !== -1) {
    if (at > 0 && isWord(text.charCodeAt(at - 1))) {
      from = at + 1
      continue
    }

    const header = runEnd(text, at + 3)
    let end = -1
    if (header > at + 3 && text.charCodeAt(header) === 0x2e) {
      const payload = runEnd(text, header + 1)
      if (payload > header + 1 && text.charCodeAt(payload) === 0x2e) end = runEnd(text, payload + 1)
    }

    if (end === -1) {
      from = Math.max(header, at + 1)
      continue
    }

    out += text.slice(copied, at) + REDACTED
    matched = true
    copied = end
    from = end
  }

  return matched ? out + text.slice(copied) : text
}
