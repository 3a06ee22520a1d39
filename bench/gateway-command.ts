import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)))

/**
 * The gateway command the benchmarks run, with `{BACKEND}` and `{PORT}` placeholders: BENCH_GATEWAY_CMD (split on
 * spaces, e.g. another build), else this checkout's `bin/run.js tcp:proxy --upstream {BACKEND} --port {PORT}`.
 */
export function gatewayCommand(): string[] {
  return (
    process.env.BENCH_GATEWAY_CMD?.split(' ').filter(Boolean) ?? [
      process.execPath,
      join(ROOT, 'bin', 'run.js'),
      'tcp:proxy',
      '--upstream',
      '{BACKEND}',
      '--port',
      '{PORT}',
    ]
  )
}
