import type {Supervisor, SupervisorEvent} from '../../../src/lib/supervisor/supervisor.js'
import {SERVERS} from '../../support/proxy.js'

export const NODE = JSON.stringify(process.execPath)

/** `node <fixture> args` as a shell command. */
export function fixture(name: string, args = ''): string {
  return `${NODE} ${JSON.stringify(SERVERS + name)} ${args}`.trim()
}

/** Resolves with the first event matching, rejecting if the process exits first or after timeoutMs. */
export function waitForEvent<T extends SupervisorEvent>(
  supervisor: Supervisor,
  predicate: (event: SupervisorEvent) => event is T,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      supervisor.off('event', listener)
      reject(new Error('timed out waiting for a supervisor event'))
    }, timeoutMs)
    const listener = (event: SupervisorEvent) => {
      if (!predicate(event)) return
      clearTimeout(timer)
      supervisor.off('event', listener)
      resolve(event)
    }

    supervisor.on('event', listener)
  })
}

export function outputMatching(id: string, pattern: RegExp) {
  return (event: SupervisorEvent): event is Extract<SupervisorEvent, {type: 'output'}> =>
    event.type === 'output' && event.id === id && pattern.test(event.line)
}
