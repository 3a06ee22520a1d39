import {readFile, stat} from 'node:fs/promises'

import {ParseError} from './parse-error.js'

export interface ProcfileEntry {
  name: string
  command: string
  line: number
  /** True for types that run once rather than as long-running processes (`postdeploy`): never started. */
  oneOff?: boolean
}

export interface Procfile {
  entries: ProcfileEntry[]
  warnings: string[]
}

/** Types the platform runs once after a deployment instead of keeping them running. */
export const ONE_OFF_TYPES: readonly string[] = ['postdeploy']

export const MAX_PROCFILE_BYTES = 1024 * 1024

// foreman's rule; the platform's own rule is stricter (PLATFORM_NAME), which only earns a warning
const LOCAL_NAME = /^[A-Za-z0-9_-]+$/
const PLATFORM_NAME = /^[A-Za-z0-9]{1,24}$/

const FORMAT_HINT = 'Each line must look like `name: command`, e.g. `tcp: node server.js`.'

export function parseProcfile(text: string, source = 'Procfile'): Procfile {
  if (text.length > MAX_PROCFILE_BYTES) {
    throw new ParseError('PROCFILE', `${source} is larger than 1 MB; this does not look like a Procfile.`)
  }

  if (text.includes('\0')) {
    throw new ParseError('PROCFILE', `${source} contains binary data (NUL bytes); a Procfile is a text file.`)
  }

  const entries: ProcfileEntry[] = []
  const warnings: string[] = []
  const seen = new Map<string, number>()
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)

  for (const [index, rawLine] of lines.entries()) {
    const line = index + 1
    const trimmed = rawLine.trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue
    const where = `${source} line ${line}`

    const colon = trimmed.indexOf(':')
    if (colon === -1) {
      throw new ParseError('PROCFILE', `${where}: expected \`name: command\`, got ${quote(trimmed)}.`, {
        line,
        suggestions: [FORMAT_HINT],
      })
    }

    const name = trimmed.slice(0, colon).trim()
    const command = trimmed.slice(colon + 1).trim()
    if (!LOCAL_NAME.test(name)) {
      throw new ParseError(
        'PROCFILE',
        `${where}: invalid process type name ${quote(name)}; use letters, digits, "-" and "_" only.`,
        {line, suggestions: [FORMAT_HINT]},
      )
    }

    if (command === '') {
      throw new ParseError('PROCFILE', `${where}: process type "${name}" has an empty command.`, {
        line,
        suggestions: [FORMAT_HINT],
      })
    }

    const previous = seen.get(name)
    if (previous !== undefined) {
      throw new ParseError(
        'PROCFILE',
        `${where}: duplicate process type "${name}" (already defined on line ${previous}).`,
        {line, suggestions: ['Keep one line per process type.']},
      )
    }

    seen.set(name, line)
    if (!PLATFORM_NAME.test(name)) {
      warnings.push(
        `${where}: Scalingo refuses the process type name "${name}" ` +
          '(letters and digits only, at most 24 characters); it runs locally but will fail to deploy.',
      )
    }

    const entry: ProcfileEntry = {name, command, line}
    if (ONE_OFF_TYPES.includes(name)) entry.oneOff = true
    entries.push(entry)
  }

  if (entries.length === 0) {
    throw new ParseError('PROCFILE', `${source} defines no process types.`, {
      suggestions: ['Add a line such as `tcp: node server.js`.'],
    })
  }

  return {entries, warnings}
}

export async function readProcfile(path: string): Promise<Procfile> {
  let size: number
  try {
    const info = await stat(path)
    if (info.isDirectory())
      throw new ParseError('PROCFILE', `${path} is a directory, not a Procfile.`, {suggestions: procfileSuggestions()})
    size = info.size
  } catch (error) {
    if (error instanceof ParseError) throw error
    throw missingOrUnreadable(path, error)
  }

  if (size > MAX_PROCFILE_BYTES) {
    throw new ParseError('PROCFILE', `${path} is larger than 1 MB; this does not look like a Procfile.`)
  }

  let bytes: Buffer
  try {
    bytes = await readFile(path)
  } catch (error) {
    throw missingOrUnreadable(path, error)
  }

  if (bytes.length > MAX_PROCFILE_BYTES) {
    throw new ParseError('PROCFILE', `${path} is larger than 1 MB; this does not look like a Procfile.`)
  }

  if (bytes.includes(0)) {
    throw new ParseError('PROCFILE', `${path} contains binary data (NUL bytes); a Procfile is a text file.`)
  }

  let text: string
  try {
    text = new TextDecoder('utf-8', {fatal: true}).decode(bytes)
  } catch {
    throw new ParseError('PROCFILE', `${path} is not valid UTF-8 text; a Procfile is a text file.`)
  }

  return parseProcfile(text, path)
}

function procfileSuggestions(): string[] {
  return [
    'Pass -f/--procfile <path> to use another Procfile.',
    'Or create a Procfile with a `tcp: <command>` line, e.g. `tcp: node server.js`.',
    'Or run without a Procfile against a server you start yourself: --upstream HOST:PORT.',
  ]
}

function missingOrUnreadable(path: string, error: unknown): ParseError {
  const code = (error as NodeJS.ErrnoException)?.code
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new ParseError('PROCFILE', `No Procfile found at ${path}.`, {suggestions: procfileSuggestions()})
  }

  const reason =
    code === 'EACCES' || code === 'EPERM' ? 'permission denied' : ((error as Error)?.message ?? String(error))
  return new ParseError('PROCFILE', `Cannot read the Procfile ${path}: ${reason}.`, {
    suggestions: procfileSuggestions(),
  })
}

/** Quotes user text for an error message, shortened so a huge line cannot flood the terminal. */
export function quote(text: string, max = 60): string {
  const shown = text.length > max ? `${text.slice(0, max)}…` : text
  return JSON.stringify(shown)
}
