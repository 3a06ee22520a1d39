import {Flags} from '@oclif/core'

import type {CommandLine} from '../command-line.js'
import {type Addon, findTcpAddon} from '../api/addons.js'
import type {ScalingoClient} from '../api/client.js'
import {listVariables} from '../api/resources.js'
import {DEFAULT_WAIT_TIMEOUT} from '../api/wait.js'
import {NotFoundError} from '../errors.js'
import {parseHostPortUrl} from '../host-port.js'

/** The addon as every --json output shows it. */
export interface AddonView {
  id: string
  provider: string
  plan: string
  planDisplayName: string | null
  status: string
  provisionedAt: string | null
}

export interface TcpEndpoint {
  tcpUrl: string | null
  host: string | null
  port: number | null
}

export const waitFlags = {
  wait: Flags.boolean({
    default: true,
    allowNo: true,
    summary: 'Wait until the platform is done (--no-wait returns as soon as the request is accepted).',
  }),
  'wait-timeout': Flags.string({
    default: DEFAULT_WAIT_TIMEOUT,
    summary: 'How long to wait before giving up with exit code 5 (e.g. 90s, 5m, 1m30s).',
  }),
}

export function addonView(addon: Addon): AddonView {
  return {
    id: addon.id,
    provider: addon.addon_provider?.id,
    plan: addon.plan?.name,
    planDisplayName: addon.plan?.display_name ?? null,
    status: addon.status,
    provisionedAt: addon.provisioned_at ?? null,
  }
}

/** `tcp://tcp-1.osc-fr1.scalingo.com:20001` -> host and port (nulls when absent or unreadable). */
export function tcpEndpoint(tcpUrl: string | undefined | null): TcpEndpoint {
  if (!tcpUrl) return {tcpUrl: null, host: null, port: null}
  return {tcpUrl, ...parseHostPortUrl(tcpUrl)}
}

/** TCP_URL as the app's containers see it (aliases resolved). */
export async function readTcpUrl(client: ScalingoClient, app: string): Promise<string | undefined> {
  const variables = await listVariables(client, app, {aliases: false})
  return variables.find((v) => v.name === 'TCP_URL')?.value || undefined
}

/** The app's TCP Gateway addon, or exit 4 saying how to create one. */
export async function requireTcpAddon(client: ScalingoClient, app: string, commandLine: CommandLine): Promise<Addon> {
  const addon = await findTcpAddon(client, app)
  if (!addon) {
    throw new NotFoundError(`App ${app} has no TCP Gateway addon.`, [
      `Create one with \`${commandLine('addons:tcp:create')} -a ${app}\``,
    ])
  }

  return addon
}

/** Prompts need a person at a terminal: stdin and stderr are TTYs, and never in --json mode. */
export function canPrompt(json: boolean): boolean {
  return !json && Boolean(process.stdin.isTTY && process.stderr.isTTY)
}
