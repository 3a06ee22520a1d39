import {readFile} from 'node:fs/promises'

import {ParseError} from './parse-error.js'
import {quote} from './procfile.js'

export const MAX_ENV_FILE_BYTES = 1024 * 1024

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const EXPORT_PREFIX = /^export\s+/
const DOUBLE_QUOTE_ESCAPES: Record<string, string> = {n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\'}

/**
 * The variables as an object without a prototype: `__proto__`, `constructor` or `toString` are
 * variables like any other for whoever reads or copies it (`env[name] = value` included).
 */
function withoutPrototype(variables: Map<string, string>): Record<string, string> {
  const record = Object.create(null) as Record<string, string>
  for (const [name, value] of variables) record[name] = value
  return record
}

/**
 * dotenv rules without variable expansion: `$OTHER` stays literal, like Scalingo's own environment
 * variables, so a value means the same thing here and on the platform.
 */
export function parseDotenv(text: string, source = '.env'): Record<string, string> {
  if (text.includes('\0'))
    throw new ParseError('DOTENV', `${source} contains binary data (NUL bytes); an env file is a text file.`)
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  // a Map, because assigning a `__proto__` key to a plain object would be silently lost
  const result = new Map<string, string>()

  for (let index = 0; index < lines.length; index++) {
    const line = index + 1
    const where = `${source} line ${line}`
    const trimmed = lines[index].trim()
    if (trimmed === '' || trimmed.startsWith('#')) continue

    const assignment = trimmed.replace(EXPORT_PREFIX, '')
    const equals = assignment.indexOf('=')
    if (equals === -1) {
      throw new ParseError('DOTENV', `${where}: expected \`NAME=value\`, got ${quote(trimmed)}.`, {line})
    }

    const name = assignment.slice(0, equals).trim()
    if (!NAME.test(name)) {
      throw new ParseError(
        'DOTENV',
        `${where}: invalid variable name ${quote(name)}; names are letters, digits and "_", not starting with a digit.`,
        {line},
      )
    }

    const afterEquals = assignment.slice(equals + 1)
    const raw = afterEquals.replace(/^\s+/, '')
    const opening = raw[0]
    if (opening === '"') {
      const parsed = parseDoubleQuoted(lines, index, lines[index].trimEnd().length - raw.length + 1, where)
      checkTrailing(parsed.rest, where, line)
      result.set(name, parsed.value)
      index = parsed.endIndex
    } else if (opening === "'" || opening === '`') {
      const closing = raw.indexOf(opening, 1)
      if (closing === -1)
        throw new ParseError('DOTENV', `${where}: unterminated ${opening} quote in the value of ${name}.`, {line})
      checkTrailing(raw.slice(closing + 1), where, line)
      result.set(name, raw.slice(1, closing))
    } else {
      // as in a shell, `#` starts a comment only after whitespace: `COLOR=#fff` keeps its value
      const comment = afterEquals.search(/\s#/)
      result.set(name, (comment === -1 ? afterEquals : afterEquals.slice(0, comment)).trim())
    }
  }

  return withoutPrototype(result)
}

function parseDoubleQuoted(
  lines: string[],
  startIndex: number,
  startColumn: number,
  where: string,
): {value: string; rest: string; endIndex: number} {
  let value = ''
  for (let index = startIndex; index < lines.length; index++) {
    const text = lines[index]
    for (let column = index === startIndex ? startColumn : 0; column < text.length; column++) {
      const char = text[column]
      if (char === '"') return {value, rest: text.slice(column + 1), endIndex: index}
      if (char === '\\' && column + 1 < text.length) {
        const next = text[++column]
        value += DOUBLE_QUOTE_ESCAPES[next] ?? `\\${next}`
      } else {
        value += char
      }
    }

    value += '\n'
  }

  throw new ParseError('DOTENV', `${where}: unterminated " quote (the value runs to the end of the file).`, {
    line: startIndex + 1,
    suggestions: ['Close the quote, or escape a literal quote as \\".'],
  })
}

function checkTrailing(rest: string, where: string, line: number): void {
  if (rest.trim() === '' || /^\s+#/.test(rest)) return
  throw new ParseError('DOTENV', `${where}: unexpected text ${quote(rest.trim())} after the closing quote.`, {line})
}

/** Reads the env files in order; a later file overrides the variables of an earlier one. */
export async function loadEnvFiles(paths: string[]): Promise<Record<string, string>> {
  const merged = new Map<string, string>()
  for (const path of paths) {
    let bytes: Buffer
    try {
      bytes = await readFile(path)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException)?.code
      const reason =
        code === 'ENOENT'
          ? 'no such file'
          : code === 'EISDIR'
            ? 'it is a directory'
            : code === 'EACCES'
              ? 'permission denied'
              : (error as Error).message
      throw new ParseError('DOTENV', `Cannot read the env file ${path}: ${reason}.`, {
        suggestions: ['Check the path given to -e/--env.'],
      })
    }

    if (bytes.length > MAX_ENV_FILE_BYTES)
      throw new ParseError('DOTENV', `${path} is larger than 1 MB; this does not look like an env file.`)
    for (const [name, value] of Object.entries(parseDotenv(bytes.toString('utf8'), path))) merged.set(name, value)
  }

  return withoutPrototype(merged)
}
