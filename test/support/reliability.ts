/** Long soak variants run only with RELIABILITY_SOAK=1; the short ones always run. */
export const SOAK = process.env.RELIABILITY_SOAK === '1'

/** Figures a test measured, printed once at the end of the run (the README quotes them). */
export const figures: Record<string, Record<string, number | string>> = {}

export function report(name: string, values: Record<string, number | string>): void {
  figures[name] = values
  if (process.env.RELIABILITY_FIGURES !== '0') console.log(`      [figures] ${name}: ${JSON.stringify(values)}`)
}
