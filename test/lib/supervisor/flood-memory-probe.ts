// flood-memory-probe.ts: run by supervisor.test.ts as `node --expose-gc --import tsx <this> BYTES`. A Supervisor
// runs flood.mjs writing BYTES without a newline; the probe counts the output as a real consumer would (keeping
// no event) and samples the heap *after a full collection* (retained memory, not garbage that V8 has not collected
// yet) on a timer while the flood runs and on every 64th line, then prints one JSON line on stdout.
import {tmpdir} from 'node:os'

import {Supervisor} from '../../../src/lib/supervisor/supervisor.js'
import {fixture} from './helpers.js'

const gc = (globalThis as {gc?: () => void}).gc
if (!gc) throw new Error('run with --expose-gc')

function retained(): number {
  gc!()
  return process.memoryUsage().heapUsed
}

const bytes = Number(process.argv[2])
const supervisor = new Supervisor()
let total = 0
let longest = 0
let count = 0
let lines = 0
const baseline = retained()
let peak = baseline
const sample = () => {
  peak = Math.max(peak, retained())
}

supervisor.on('event', (event) => {
  if (event.type !== 'output') return
  total += event.line.length
  longest = Math.max(longest, event.line.length)
  lines++
  if (++count % 64 === 0) sample()
})
// The timer catches a splitter that holds everything back until the end (it would emit no line meanwhile).
const timer = setInterval(sample, 25)
const managed = supervisor.start({
  id: 'tcp-1',
  type: 'tcp',
  command: fixture('flood.mjs', `--bytes ${bytes} --no-newlines --line-length 4096`),
  cwd: tmpdir(),
  env: {PATH: process.env.PATH ?? '/usr/bin:/bin'},
})
const info = await managed.exited
clearInterval(timer)
sample()
const recent = managed.recentOutput(1000).length
process.stdout.write(`${JSON.stringify({info, total, longest, lines, baseline, peak, recent})}\n`)
