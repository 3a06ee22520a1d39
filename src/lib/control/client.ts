import type {ClientRequest} from 'node:http'
import {join} from 'node:path'

import {waitFor, type WaitOptions} from '../api/wait.js'
import {commandRef} from '../command-line.js'
import {type GatewayState, type LocalOperation, type LocalStatus, STATE_FILE_NAME} from '../contract.js'
import {CliError} from '../errors.js'
import {findStateFile} from './state-file.js'

const REQUEST_TIMEOUT_MS = 10_000
/** Far above any answer of the control interface (a status with hundreds of instances is a few hundred KB). */
const MAX_BODY_BYTES = 8 * 1024 * 1024
const RESTART_PROXY = ['Restart tcp:proxy in that directory: it rewrites the state file.']

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
  // The control interface's JSON as parsed; each caller checks the shape it needs.
  body: any // eslint-disable-line @typescript-eslint/no-explicit-any
}

export function notRunning(dir: string): CliError {
  return new CliError(`No local gateway is running in ${dir}.`, {
    code: 'NO_LOCAL_GATEWAY',
    suggestions: [`Start one with: ${commandRef('tcp:proxy')}`],
  })
}

/** What answers at the state file's URL is not a control interface of ours (another server took the port, a stale file). */
function notOurGateway(dir: string, what: string): CliError {
  return new CliError(
    `What answers at the control URL in ${join(dir, STATE_FILE_NAME)} is not a local gateway: ${what}.`,
    {
      code: 'NOT_A_LOCAL_GATEWAY',
      suggestions: RESTART_PROXY,
    },
  )
}

/** Finds the gateway `tcp:proxy` runs for this directory (or a parent) and talks to its control interface. */
export async function connectToLocalGateway(options: {cwd: string}): Promise<LocalGatewayClient> {
  const found = findStateFile(options.cwd)
  if (!found) throw notRunning(options.cwd)
  const {dir, state} = found
  // Loaded here, not at the top: `env` bundles this module (for --local), and on Node >= 22 a static import of
  // node:http loads undici with it, a cost every `env -a APP` would pay without ever talking to a local gateway.
  const {request} = await import('node:http')

  const call = (method: string, path: string): Promise<Response> =>
    new Promise((resolve, reject) => {
      let req: ClientRequest
      try {
        const url = new URL(path, state.url)
        if (url.protocol !== 'http:') throw new Error('not http')
        // request() throws at once on a token that cannot be a header value
        req = request(url, {
          method,
          headers: {Authorization: `Bearer ${state.token}`, Accept: 'application/json'},
          timeout: REQUEST_TIMEOUT_MS,
        })
      } catch {
        reject(
          new CliError(`${join(dir, STATE_FILE_NAME)} does not hold the URL and token of a control interface.`, {
            suggestions: RESTART_PROXY,
          }),
        )
        return
      }

      const fail = (error: Error) => {
        clearTimeout(deadline)
        req.destroy()
        reject(error)
      }

      const noAnswer = () =>
        new CliError(`The local gateway in ${dir} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s.`)
      // The socket timeout only bounds silences: a server trickling bytes is bounded here.
      const deadline = setTimeout(() => fail(noAnswer()), REQUEST_TIMEOUT_MS)
      req.on('timeout', () => fail(noAnswer()))
      req.on('error', (error: NodeJS.ErrnoException) => {
        // The pid in the state file is alive but is not our gateway any more (pid reuse): as good as gone.
        fail(
          error.code === 'ECONNREFUSED' || error.code === 'ECONNRESET'
            ? notRunning(dir)
            : notOurGateway(dir, error.message),
        )
      })
      req.on('response', (res) => {
        // What answers at the state file's URL may not be our gateway: read a bounded body, JSON only.
        const chunks: Buffer[] = []
        let length = 0
        res.on('data', (chunk: Buffer) => {
          length += chunk.length
          if (length > MAX_BODY_BYTES)
            fail(notOurGateway(dir, `an answer larger than ${MAX_BODY_BYTES / 1024 / 1024} MB`))
          else chunks.push(chunk)
        })
        res.on('error', (error: Error) => fail(notOurGateway(dir, error.message)))
        res.on('end', () => {
          clearTimeout(deadline)
          let body: any // eslint-disable-line @typescript-eslint/no-explicit-any
          try {
            body = length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined
          } catch {
            body = undefined
          }

          if (res.statusCode === 401) {
            reject(
              new CliError(`The local gateway in ${dir} refused the token in ${STATE_FILE_NAME}.`, {
                suggestions: [`Restart \`${commandRef('tcp:proxy')}\`: the state file belongs to another gateway.`],
              }),
            )
          } else if ((res.statusCode ?? 500) >= 400) {
            reject(
              new CliError(
                `The local gateway answered ${res.statusCode}: ${typeof body?.error === 'string' ? body.error.slice(0, 300) : 'no details'}`,
              ),
            )
          } else if (length > 0 && (body === null || typeof body !== 'object')) {
            reject(notOurGateway(dir, 'an answer that is not a JSON object'))
          } else {
            resolve({status: res.statusCode!, headers: res.headers, body})
          }
        })
      })
      req.end()
    })

  /** The field of a JSON answer, checked: a body without it did not come from our gateway. */
  const field = <T>(response: Response, name: string, valid: (value: unknown) => boolean): T => {
    const value = response.body?.[name]
    if (!valid(value)) throw notOurGateway(dir, `an answer without a valid "${name}"`)
    return value as T
  }

  const isObject = (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value)
  const isVariables = (value: unknown) =>
    Array.isArray(value) && value.every((v) => isObject(v) && typeof v.name === 'string' && typeof v.value === 'string')

  return {
    dir,
    state,
    async status() {
      return field<LocalStatus>(await call('GET', '/v1/status'), 'status', (v) => {
        const status = v as LocalStatus
        return (
          isObject(v) &&
          typeof status.app === 'string' &&
          typeof status.tcpUrl === 'string' &&
          Array.isArray(status.instances) &&
          isObject(status.connections)
        )
      })
    },
    async restart() {
      const {headers} = await call('POST', '/v1/restart')
      const location = String(headers.location ?? '')
      return {operationId: location.slice(location.lastIndexOf('/') + 1)}
    },
    async operation(id) {
      return field<LocalOperation>(await call('GET', `/v1/operations/${encodeURIComponent(id)}`), 'operation', isObject)
    },
    async env(type = 'tcp') {
      return field<Array<{name: string; value: string}>>(
        await call('GET', `/v1/env?type=${encodeURIComponent(type)}`),
        'variables',
        isVariables,
      )
    },
  }
}

/**
 * Follows a local restart like `waitForOperation` follows a platform one (same timeout, Ctrl-C and
 * progress handling); resolves with the operation whether it is `done` or `error`.
 */
export function waitForLocalOperation(
  gateway: LocalGatewayClient,
  operationId: string,
  options: WaitOptions,
): Promise<LocalOperation> {
  return waitFor(async () => {
    const operation = await gateway.operation(operationId)
    return operation.status === 'done' || operation.status === 'error'
      ? {done: true, value: operation}
      : {done: false, status: operation.status}
  }, options)
}
