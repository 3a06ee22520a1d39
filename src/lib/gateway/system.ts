import {lookup} from 'node:dns'
import {getSystemErrorName} from 'node:util'

/** What the transports share below the Endpoint interface: libuv status codes and address lookups. */

/** 'ECONNRESET' for a negative libuv status. */
export function errorCode(status: number): string {
  try {
    return getSystemErrorName(status)
  } catch {
    return `E${-status}`
  }
}

export function systemError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), {code})
}

/** The first address of a host name, for a listener that binds IP literals only. */
export function resolveHost(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    lookup(host, (error, address) => {
      if (error) reject(error)
      else resolve(address)
    })
  })
}
