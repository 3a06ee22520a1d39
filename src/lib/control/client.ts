import {request} from 'node:http'

import {waitFor, type WaitOptions} from '../api/wait.js'
import {CliError} from '../errors.js'
import type {LocalStatus} from '../proxy/status.js'
import type {LocalOperation} from './operations.js'
import {findStateFile, type GatewayState, STATE_FILE_NAME} from './state-file.js'

const REQUEST_TIMEOUT_MS = 10_000

export interface LocalGatewayClient {
  /** The app directory, where the state file is. */
  readonly dir: string
  readonly state: GatewayState
  status(): Promise<LocalStatus>
  /** Starts a rolling restart of the tcp instances; follow it with `operation(id)` until done or error. */
  restart(): Promise<{operationId: string}>
  operation(id: string): Promise<LocalOperation>
  env(type?: string): Promise<Array<{name: string; value: string}>>
}

interface Response {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: any
}

export function notRunning(dir: string): CliError {
  return new CliError(`No local gateway is running in ${dir}.`, {
    code: 'NO_LOCAL_GATEWAY',
    suggestions: ['Start one with: scalingo-tcp tcp:proxy'],
  })
}

/** Finds the gateway `tcp:proxy` runs for this directory (or a parent) and talks to its control interface. */
export async function connectToLocalGateway(options: {cwd: string}): Promise<LocalGatewayClient> {
  const found = findStateFile(options.cwd)
  if (!found) throw notRunning(options.cwd)
  const {dir, state} = found

  const call = (method: string, path: string): Promise<Response> =>
    new Promise((resolve, reject) => {
      const req = request(new URL(path, state.url), {method, headers: {Authorization: `Bearer ${state.token}`, Accept: 'application/json'}, timeout: REQUEST_TIMEOUT_MS})
      req.on('timeout', () => req.destroy(new CliError(`The local gateway in ${dir} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s.`)))
      req.on('error', (error: NodeJS.ErrnoException) => {
        // The pid in the state file is alive but is not our gateway any more (pid reuse): as good as gone.
        reject(error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET' ? notRunning(dir) : error)
      })
      req.on('response', (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('error', reject)
        res.on('end', () => {
          let body: any
          try {
            body = text ? JSON.parse(text) : undefined
          } catch {
            body = undefined
          }

          if (res.statusCode === 401) {
            reject(new CliError(`The local gateway in ${dir} refused the token in ${STATE_FILE_NAME}.`, {
              suggestions: ['Restart tcp:proxy: the state file belongs to another gateway.'],
            }))
          } else if ((res.statusCode ?? 500) >= 400) {
            reject(new CliError(`The local gateway answered ${res.statusCode}: ${body?.error ?? 'no details'}`))
          } else {
            resolve({status: res.statusCode!, headers: res.headers, body})
          }
        })
      })
      req.end()
    })

  return {
    dir,
    state,
    async status() {
      return (await call('GET', '/v1/status')).body.status as LocalStatus
    },
    async restart() {
      const {headers} = await call('POST', '/v1/restart')
      const location = String(headers.location ?? '')
      return {operationId: location.slice(location.lastIndexOf('/') + 1)}
    },
    async operation(id) {
      return (await call('GET', `/v1/operations/${encodeURIComponent(id)}`)).body.operation as LocalOperation
    },
    async env(type = 'tcp') {
      return (await call('GET', `/v1/env?type=${encodeURIComponent(type)}`)).body.variables as Array<{name: string; value: string}>
    },
  }
}

/**
 * Follows a local restart like `waitForOperation` follows a platform one (same timeout, Ctrl-C and
 * progress handling); resolves with the operation whether it is `done` or `error`.
 */
export function waitForLocalOperation(gateway: LocalGatewayClient, operationId: string, options: WaitOptions): Promise<LocalOperation> {
  return waitFor(async () => {
    const operation = await gateway.operation(operationId)
    return operation.status === 'done' || operation.status === 'error'
      ? {done: true, value: operation}
      : {done: false, status: operation.status}
  }, options)
}
