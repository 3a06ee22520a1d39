/** Heroku/Scalingo-style `=== header` followed by aligned `Key: value` lines. */
export function keyValueBlock(header: string, rows: Array<[string, string | number | undefined | null]>): string {
  const present = rows.filter(([, v]) => v !== undefined && v !== null) as Array<[string, string | number]>
  const width = Math.max(0, ...present.map(([k]) => k.length + 1))
  const lines = present.map(([k, v]) => `${`${k}:`.padEnd(width)} ${v}`)
  return [`=== ${header}`, ...lines].join('\n') + '\n'
}

/** A plain aligned table: columns separated by two spaces, no borders, so cut/awk handle it. */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return (
    cells
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  )
}
