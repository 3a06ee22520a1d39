/*
 * The benchmark's child processes, so that client, backends and proxy each get their own event loop:
 *   child.ts backends            starts the pong and sink servers, prints {"pong":port,"sink":port}
 *   child.ts client '<job>'      runs one workload (JSON job, see Job), prints its result as JSON
 */
import {bulk, connections, keepAlive, listen, pongServer, sinkServer, type Target} from './loadgen.js'

export type Job =
  | {workload: 'keepalive'; target: Target; connections: number; durationMs: number}
  | {workload: 'connections'; target: Target; concurrency: number; durationMs: number}
  | {workload: 'bulk'; target: Target; durationMs: number}

async function runJob(job: Job): Promise<unknown> {
  switch (job.workload) {
    case 'keepalive': {
      return keepAlive(job.target, job)
    }

    case 'connections': {
      return connections(job.target, job)
    }

    case 'bulk': {
      return bulk(job.target, job)
    }
  }
}

const [role, argument] = process.argv.slice(2)
if (role === 'backends') {
  const pong = await listen(pongServer())
  const sink = await listen(sinkServer())
  process.stdout.write(JSON.stringify({pong: pong.port, sink: sink.port}) + '\n')
  process.on('SIGTERM', () => process.exit(0))
} else if (role === 'client') {
  process.stdout.write(JSON.stringify(await runJob(JSON.parse(argument) as Job)) + '\n')
  process.exit(0)
} else {
  process.stderr.write('usage: child.ts backends | client <json job>\n')
  process.exit(2)
}
