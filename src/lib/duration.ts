import {UsageError} from './errors.js'

// setTimeout cannot wait longer than this; a longer timer would fire at once
export const MAX_DURATION_MS = 2 ** 31 - 1

const UNIT_MS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000}
const ACCEPTED = 'Use a number of seconds (30) or a duration such as 500ms, 30s, 5m, 1h or 1m30s.'

/** `500ms`, `30s`, `5m`, `1h`, `1m30s`, `1.5s`, or a bare number of seconds; returns milliseconds. */
export function parseDuration(text: string): number {
  const input = text.trim()
  let ms: number
  if (/^\d+(\.\d+)?$/.test(input)) {
    ms = Number(input) * 1000
  } else if (/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(input)) {
    ms = 0
    for (const [, amount, , unit] of input.matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) ms += Number(amount) * UNIT_MS[unit]
  } else {
    throw new UsageError(`Invalid duration ${JSON.stringify(text.slice(0, 60))}.`, [ACCEPTED])
  }

  ms = Math.round(ms)
  if (!Number.isFinite(ms) || ms > MAX_DURATION_MS) {
    throw new UsageError(`Duration ${JSON.stringify(text.slice(0, 60))} is too long (at most 24 days).`, [ACCEPTED])
  }

  return ms
}

/** `5m` (exactly) or `30s..2m` (a range, e.g. for a random delay); minMs <= maxMs. */
export function parseDurationRange(text: string): {minMs: number; maxMs: number} {
  const parts = text.split('..')
  if (parts.length === 1) {
    const ms = parseDuration(text)
    return {minMs: ms, maxMs: ms}
  }

  if (parts.length !== 2) {
    throw new UsageError(`Invalid duration range ${JSON.stringify(text.slice(0, 60))}.`, [
      `Use one duration (5m) or MIN..MAX (30s..2m). ${ACCEPTED}`,
    ])
  }

  const minMs = parseDuration(parts[0])
  const maxMs = parseDuration(parts[1])
  if (minMs > maxMs) {
    throw new UsageError(
      `Invalid duration range ${JSON.stringify(text.slice(0, 60))}: the minimum is larger than the maximum.`,
      ['Write the range as MIN..MAX, e.g. 30s..2m.'],
    )
  }

  return {minMs, maxMs}
}

/** A duration for a message: `1.5 s` from one second up, `250 ms` below. */
export function formatDuration(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`
}
