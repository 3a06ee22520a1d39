/*
 * npm run bench [-- options]: the gateway against a direct connection and, when haproxy is on the PATH,
 * HAProxy (mode tcp, nbthread 1), in one run, interleaved, medians of N repetitions. Not a timed test.
 * Options and environment: see usage() below.
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {once} from 'node:events'
import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {type AddressInfo, connect, createServer} from 'node:net'
import {cpus, tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {createInterface} from 'node:readline'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

import type {Job} from './child.js'
import {gatewayCommand} from './gateway-command.js'
import type {BulkResult, RateResult, Target} from './loadgen.js'

const BENCH_DIR = dirname(fileURLToPath(import.meta.url))
const ROOT = dirname(BENCH_DIR)
const HOST = '127.0.0.1'

type Workload = 'keepalive' | 'connections' | 'bulk'
/** gateway-<io> runs the gateway with SCALINGO_TCP_GATEWAY_IO=<io>: compares its transports in one run. */
type Config = 'direct' | 'haproxy' | 'gateway' | 'gateway-streams' | 'gateway-native'
const CONFIGS: Config[] = ['direct', 'haproxy', 'gateway', 'gateway-streams', 'gateway-native']
const isGateway = (config: Config) => config.startsWith('gateway')
const WORKLOADS: Workload[] = ['keepalive', 'connections', 'bulk']

interface Settings {
  durationMs: number
  reps: number
  connections: number
  concurrency: number
  workloads: Workload[]
  configs: Config[]
  clients: 'node' | 'tools'
  pin: boolean
  /** The gateway's command line; {BACKEND} is host:port, {PORT} the port to listen on. */
  gatewayCommand: string[]
}

function usage(): string {
  return `npm run bench [-- options]
  --duration SECONDS     per measurement (env BENCH_DURATION, default 5; quick: 1)
  --reps N               repetitions, medians reported (env BENCH_REPS, default 3; quick: 1)
  --quick                1 s, 1 repetition: a sanity check, not a measurement
  --workloads LIST       keepalive,connections,bulk (env BENCH_WORKLOADS, default all)
  --configs LIST         direct,haproxy,gateway (default; haproxy only when on the PATH); also
                         gateway-streams, gateway-native (one transport each)
  --connections N        keep-alive connections (default 50)
  --concurrency N        parallel connect loops in the connections workload (default 20)
  --clients node|tools   tools: redis-benchmark + redis-server and iperf3 when installed (default);
                         node: the Node load generator and backends only (env BENCH_CLIENTS)
  --no-pin               do not pin client to CPU 0 and backends to CPU 1 (done when taskset exists
                         and there are 2+ CPUs; the proxy is never pinned)
  env BENCH_GATEWAY_CMD  the gateway's command line, {BACKEND} and {PORT} placeholders (default:
                         node bin/run.js tcp:proxy --upstream {BACKEND} --port {PORT}); e.g. another build`
}

function which(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

function parseSettings(): Settings {
  const {values} = parseArgs({
    options: {
      duration: {type: 'string'},
      reps: {type: 'string'},
      quick: {type: 'boolean'},
      workloads: {type: 'string'},
      configs: {type: 'string'},
      connections: {type: 'string'},
      concurrency: {type: 'string'},
      clients: {type: 'string'},
      'no-pin': {type: 'boolean'},
      help: {type: 'boolean', short: 'h'},
    },
  })
  if (values.help) {
    console.log(usage())
    process.exit(0)
  }

  const env = process.env
  const quick = values.quick ?? env.BENCH_QUICK === '1'
  const list = (text: string | undefined) =>
    text
      ?.split(',')
      .map((item) => item.trim())
      .filter(Boolean)
  const workloads = (list(values.workloads ?? env.BENCH_WORKLOADS) ?? WORKLOADS) as Workload[]
  const configs = (list(values.configs) ?? ['direct', 'haproxy', 'gateway']) as Config[]
  for (const w of workloads) if (!WORKLOADS.includes(w)) throw new Error(`unknown workload ${w}\n${usage()}`)
  for (const c of configs) if (!CONFIGS.includes(c)) throw new Error(`unknown configuration ${c}\n${usage()}`)
  const clients = (values.clients ?? env.BENCH_CLIENTS ?? 'tools') as Settings['clients']
  return {
    durationMs: Number(values.duration ?? env.BENCH_DURATION ?? (quick ? 1 : 5)) * 1000,
    reps: Number(values.reps ?? env.BENCH_REPS ?? (quick ? 1 : 3)),
    connections: Number(values.connections ?? 50),
    concurrency: Number(values.concurrency ?? 20),
    workloads,
    configs: configs.filter((config) => config !== 'haproxy' || which('haproxy')),
    clients,
    pin: !values['no-pin'] && cpus().length >= 2 && which('taskset'),
    gatewayCommand: gatewayCommand(),
  }
}

// ------------------------------------------------------------------ processes

const children = new Set<ChildProcess>()

function start(command: string, args: string[], cpu?: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const [file, argv] = cpu === undefined ? [command, args] : ['taskset', ['-c', cpu, command, ...args]]
  const child = spawn(file, argv, {stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env})
  children.add(child)
  child.on('exit', () => children.delete(child))
  return child
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({input: child.stdout!})
    lines.once('line', (line) => {
      lines.close()
      resolve(line)
    })
    child.once('exit', (code) => reject(new Error(`${child.spawnargs.join(' ')} exited (${code}) before printing`)))
  })
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${child.spawnargs.join(' ')} exited with ${child.exitCode}`)
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({host: HOST, port})
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => {
      setTimeout(resolve, 50)
    })
  }

  throw new Error(`nothing listens on ${port} after 15 s`)
}

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100
  } catch {
    return 100
  }
})()

/** user+sys CPU seconds of a process (and its reaped children), from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14-17
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS
}

async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, HOST)
  await once(server, 'listening')
  const {port} = server.address() as AddressInfo
  server.close()
  return port
}

/** redis-benchmark -k 0 closes first: its ports wait in TIME_WAIT, reusable only after this delay. */
function timeWaitWarning(settings: Settings, tool: Backends['tool']): string | undefined {
  if (!settings.workloads.includes('connections') || !tool.keepalive) return undefined
  try {
    const delay = Number(readFileSync('/proc/sys/net/ipv4/tcp_tw_reuse_delay', 'utf8'))
    if (delay <= 10) return undefined
    return (
      `note: net.ipv4.tcp_tw_reuse_delay is ${delay} ms: the connections workload (redis-benchmark -k 0) soon ` +
      'runs out of client ports and measures the kernel, not the proxy; sysctl -w net.ipv4.tcp_tw_reuse_delay=1 for ' +
      'the run (../shared/bench does that), or --clients node (its server closes first)'
    )
  } catch {
    return undefined
  }
}

// ------------------------------------------------------------------ backends and proxies

interface Backends {
  keepalive: Target
  connections: Target
  bulk: Target
  tool: {keepalive: boolean; bulk: boolean}
}

async function startBackends(settings: Settings, cpu: string | undefined): Promise<Backends> {
  const node = start(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'child.ts'), 'backends'], cpu)
  const ports = JSON.parse(await firstLine(node)) as {pong: number; sink: number}
  const backends: Backends = {
    keepalive: {host: HOST, port: ports.pong},
    connections: {host: HOST, port: ports.pong},
    bulk: {host: HOST, port: ports.sink},
    tool: {keepalive: false, bulk: false},
  }
  if (settings.clients === 'tools' && which('redis-server') && which('redis-benchmark')) {
    const port = await freePort()
    const redis = start(
      'redis-server',
      ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no'],
      cpu,
    )
    await waitForPort(port, redis)
    backends.keepalive = {host: HOST, port}
    backends.connections = {host: HOST, port}
    backends.tool.keepalive = true
  }

  if (settings.clients === 'tools' && which('iperf3')) {
    const port = await freePort()
    const iperf = start('iperf3', ['-s', '-B', HOST, '-p', String(port)], cpu)
    await waitForPort(port, iperf)
    backends.bulk = {host: HOST, port}
    backends.tool.bulk = true
  }

  return backends
}

interface Proxy {
  target: Target
  pid?: number
  child?: ChildProcess
}

async function startProxy(config: Config, backend: Target, dir: string, settings: Settings): Promise<Proxy> {
  if (config === 'direct') return {target: backend}
  const port = await freePort()
  let child: ChildProcess
  if (config === 'haproxy') {
    const file = join(dir, `haproxy-${port}.cfg`)
    writeFileSync(
      file,
      [
        'global',
        '    nbthread 1',
        '    maxconn 9000',
        'defaults',
        '    mode tcp',
        '    timeout connect 5s',
        '    timeout client 60s',
        '    timeout server 60s',
        'listen bench',
        `    bind ${HOST}:${port}`,
        `    server s1 ${backend.host}:${backend.port}`,
        '',
      ].join('\n'),
    )
    child = start('haproxy', ['-db', '-f', file])
  } else {
    const [command, ...args] = settings.gatewayCommand.map((arg) =>
      arg.replaceAll('{BACKEND}', `${backend.host}:${backend.port}`).replaceAll('{PORT}', String(port)),
    )
    const io = config.slice('gateway-'.length)
    child = start(command, args, undefined, io ? {...process.env, SCALINGO_TCP_GATEWAY_IO: io} : undefined)
    // The gateway says it listens once its upstream answered a probe: wait for that line.
    await firstLine(child)
  }

  child.stderr!.resume()
  await waitForPort(port, child)
  return {target: {host: HOST, port}, pid: child.pid, child}
}

// ------------------------------------------------------------------ clients

interface Measurement {
  /** req/s, conn/s or Gbit/s */
  value: number
  /** work units for CPU cost: requests, connections or GB */
  units: number
  p50Ms?: number
  p99Ms?: number
  errors: number
}

async function runNodeClient(job: Job, cpu: string | undefined): Promise<RateResult | BulkResult> {
  const child = start(
    process.execPath,
    ['--import', 'tsx', join(BENCH_DIR, 'child.ts'), 'client', JSON.stringify(job)],
    cpu,
  )
  child.stderr!.resume()
  return JSON.parse(await firstLine(child)) as RateResult | BulkResult
}

function runTool(command: string, args: string[], cpu: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = start(command, args, cpu)
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
    })
    child.stderr!.resume()
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}: ${out.slice(0, 500)}`)),
    )
  })
}

/** redis-benchmark --csv: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms" */
function parseRedisCsv(out: string): Measurement {
  const line = out
    .trim()
    .split('\n')
    .find((row) => row.startsWith('"PING'))
  if (!line) throw new Error(`no result in redis-benchmark output: ${out.slice(0, 300)}`)
  const cells = line.split(',').map((cell) => Number(cell.replaceAll('"', '')))
  return {value: cells[1], units: 0, p50Ms: cells[4], p99Ms: cells[6], errors: 0}
}

async function measure(
  workload: Workload,
  target: Target,
  settings: Settings,
  tool: Backends['tool'],
  cpu: string | undefined,
): Promise<Measurement> {
  const seconds = settings.durationMs / 1000
  // redis-benchmark's PING (bulk reply) against the target: keep-alive, or one connection per request (-k 0).
  const redisBenchmark = async (requests: number, clients: number, extra: string[]) => {
    const args = ['-h', target.host, '-p', String(target.port), '-t', 'ping_mbulk', '-n', String(requests)]
    return parseRedisCsv(await runTool('redis-benchmark', [...args, '-c', String(clients), ...extra, '--csv'], cpu))
  }

  if (workload === 'keepalive' && tool.keepalive) {
    const requests = Math.max(10_000, Math.round(120_000 * seconds))
    return {...(await redisBenchmark(requests, settings.connections, [])), units: requests}
  }

  if (workload === 'connections' && tool.keepalive) {
    const count = Math.max(2000, Math.round(15_000 * seconds))
    return {...(await redisBenchmark(count, settings.concurrency, ['-k', '0'])), units: count}
  }

  if (workload === 'bulk' && tool.bulk) {
    // The iperf3 server runs one test at a time and may still be closing the previous one ("busy"): retry.
    for (let attempt = 1; ; attempt++) {
      let out: {error?: string; end?: {sum_received?: {bits_per_second: number; bytes: number}}}
      try {
        out = JSON.parse(
          await runTool(
            'iperf3',
            ['-c', target.host, '-p', String(target.port), '-t', String(Math.max(1, Math.round(seconds))), '-J'],
            cpu,
          ),
        )
      } catch (error) {
        // iperf3 exits non-zero on errors, with its JSON on stdout
        const text = error instanceof Error ? error.message : String(error)
        out = {error: text}
      }

      const received = out.end?.sum_received
      if (received) return {value: received.bits_per_second / 1e9, units: received.bytes / 1e9, errors: 0}
      if (attempt === 5) throw new Error(`iperf3 failed: ${out.error ?? 'no result'}`)
      await new Promise((resolve) => {
        setTimeout(resolve, 500 * attempt)
      })
    }
  }

  if (workload === 'bulk') {
    const result = (await runNodeClient({workload, target, durationMs: settings.durationMs}, cpu)) as BulkResult
    return {value: result.gbitPerSecond, units: result.bytes / 1e9, errors: result.errors}
  }

  const job: Job =
    workload === 'keepalive'
      ? {workload, target, connections: settings.connections, durationMs: settings.durationMs}
      : {workload, target, concurrency: settings.concurrency, durationMs: settings.durationMs}
  const result = (await runNodeClient(job, cpu)) as RateResult
  return {value: result.perSecond, units: result.count, p50Ms: result.p50Ms, p99Ms: result.p99Ms, errors: result.errors}
}

// ------------------------------------------------------------------ report

interface Row {
  rep: number
  workload: Workload
  config: Config
  m: Measurement
  /** CPU per unit: µs per request/connection, ms per GB */
  cpuPerUnit?: number
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

const UNIT: Record<Workload, [string, string]> = {
  keepalive: ['req/s', 'CPU µs/req'],
  connections: ['conn/s', 'CPU µs/conn'],
  bulk: ['Gbit/s', 'CPU ms/GB'],
}

function format(value: number | undefined, digits = 0): string {
  if (value === undefined || Number.isNaN(value)) return '–'
  return value.toLocaleString('en-US', {maximumFractionDigits: digits, minimumFractionDigits: digits})
}

function report(rows: Row[], settings: Settings): string {
  const reference: Config = settings.configs.includes('haproxy') ? 'haproxy' : 'direct'
  const proxies = settings.configs.filter((config) => config !== 'direct')
  const lines: string[] = []
  const gateways = settings.configs.filter((config) => isGateway(config))
  const header = ['workload', 'unit', ...settings.configs, ...gateways.map((gateway) => `${gateway} / ${reference}`)]
  lines.push(`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`)
  const pick = (w: Workload, c: Config) => rows.filter((row) => row.workload === w && row.config === c)
  const paired = (w: Workload, c: Config, ref: Config, value: (row: Row) => number | undefined) => {
    const ratios: number[] = []
    for (const row of pick(w, c)) {
      const other = pick(w, ref).find((r) => r.rep === row.rep)
      const a = value(row)
      const b = other && value(other)
      if (a !== undefined && b) ratios.push(a / b)
    }

    return ratios.length > 0 ? median(ratios) : undefined
  }

  for (const w of settings.workloads) {
    const digits = w === 'bulk' ? 2 : 0
    const cells = settings.configs.map((c) => format(median(pick(w, c).map((row) => row.m.value)), digits))
    const ratios = gateways.map(
      (gateway) =>
        `${format(
          paired(w, gateway, reference, (row) => row.m.value),
          2,
        )}×`,
    )
    lines.push(`| ${w} | ${UNIT[w][0]} | ${[...cells, ...ratios].join(' | ')} |`)
    if (w !== 'bulk') {
      const lat = settings.configs.map((c) => {
        const r = pick(w, c)
        return `${format(median(r.map((row) => row.m.p50Ms ?? Number.NaN)), 3)} / ${format(median(r.map((row) => row.m.p99Ms ?? Number.NaN)), 3)}`
      })
      const p99 = gateways.map(
        (gateway) =>
          `p99 ${format(
            paired(w, gateway, reference, (row) => row.m.p99Ms),
            2,
          )}×`,
      )
      lines.push(`| ${w} p50 / p99 | ms | ${[...lat, ...p99].join(' | ')} |`)
    }

    if (proxies.length > 0) {
      const cpu = settings.configs.map((c) =>
        c === 'direct' ? '' : format(median(pick(w, c).map((row) => row.cpuPerUnit ?? Number.NaN)), 1),
      )
      const ratioCpu = gateways.map((gateway) =>
        reference === 'direct'
          ? ''
          : `${format(
              paired(w, gateway, reference, (row) => row.cpuPerUnit),
              2,
            )}×`,
      )
      lines.push(`| ${w} proxy CPU | ${UNIT[w][1]} | ${[...cpu, ...ratioCpu].join(' | ')} |`)
    }
  }

  const errors = rows.reduce((sum, row) => sum + row.m.errors, 0)
  lines.push(
    '',
    `${settings.reps} repetition(s) of ${settings.durationMs / 1000} s, medians; ratios are paired per repetition` +
      `${errors > 0 ? `; ${errors} client errors counted` : ''}.`,
  )
  return lines.join('\n')
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const settings = parseSettings()
  if (
    settings.configs.some((config) => isGateway(config)) &&
    !process.env.BENCH_GATEWAY_CMD &&
    !existsSync(join(ROOT, 'dist', 'commands', 'tcp', 'proxy.js'))
  ) {
    throw new Error('dist/ is missing: run `npm run build` first (the gateway runs as bin/run.js tcp:proxy).')
  }

  const clientCpu = settings.pin ? '0' : undefined
  const serverCpu = settings.pin ? '1' : undefined
  const dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-bench-'))
  const backends = await startBackends(settings, serverCpu)
  console.error(
    `configs: ${settings.configs.join(' ')}; workloads: ${settings.workloads.join(' ')}; ` +
      `clients: ${backends.tool.keepalive ? 'redis-benchmark' : 'node'} (keep-alive, connections), ` +
      `${backends.tool.bulk ? 'iperf3' : 'node'} (bulk); ${settings.pin ? 'client on CPU 0, backends on CPU 1' : 'unpinned'}`,
  )
  const warning = timeWaitWarning(settings, backends.tool)
  if (warning) console.error(warning)
  const rows: Row[] = []
  let failures = 0
  for (let rep = 1; rep <= settings.reps; rep++) {
    for (const workload of settings.workloads) {
      const order = settings.configs.map((_, i) => settings.configs[(i + rep - 1) % settings.configs.length])
      for (const config of order) {
        const proxy = await startProxy(config, backends[workload], dir, settings)
        try {
          const before = proxy.pid ? cpuSeconds(proxy.pid) : 0
          let m: Measurement
          try {
            m = await measure(workload, proxy.target, settings, backends.tool, clientCpu)
          } catch (error) {
            // One failed client run costs its cell, not the whole run.
            console.error(
              `rep ${rep}/${settings.reps} ${workload} ${config}: FAILED, ${error instanceof Error ? error.message : error}`,
            )
            failures++
            continue
          }

          const cpu = proxy.pid ? cpuSeconds(proxy.pid) - before : 0
          const cpuPerUnit =
            proxy.pid && m.units > 0 ? (workload === 'bulk' ? (cpu * 1e3) / m.units : (cpu * 1e6) / m.units) : undefined
          rows.push({rep, workload, config, m, cpuPerUnit})
          console.error(
            `rep ${rep}/${settings.reps} ${workload} ${config}: ${format(m.value, workload === 'bulk' ? 2 : 0)} ${UNIT[workload][0]}` +
              `${cpuPerUnit === undefined ? '' : `, ${format(cpuPerUnit, 1)} ${UNIT[workload][1]}`}${m.errors ? `, ${m.errors} errors` : ''}`,
          )
        } finally {
          if (proxy.child) await stop(proxy.child)
        }
      }
    }
  }

  console.log(report(rows, settings))
  if (failures > 0) console.log(`${failures} measurement(s) failed (see above) and are left out.`)
}

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130))

try {
  await main()
} catch (error) {
  console.error(error instanceof Error ? error.message : error)
  process.exitCode = 1
} finally {
  await Promise.all([...children].map((child) => stop(child)))
}
