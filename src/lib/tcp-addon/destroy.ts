import type {CommandLine} from '../command-line.js'
import {destroyAddon} from '../api/addons.js'
import type {ScalingoClient} from '../api/client.js'
import {CliError, UsageError} from '../errors.js'
import {type AddonView, addonView, readTcpUrl, requireTcpAddon} from './common.js'

/** What `addons:tcp:destroy --json` prints. */
export interface DestroyResult {
  app: string
  addon: AddonView
  /** The TCP_URL that went away with the addon (null if it was not set). */
  tcpUrl: string | null
  destroyed: true
}

export interface DestroyTarget {
  app: string
  addon: AddonView
  tcpUrl: string | null
}

/** The addon to remove and its TCP_URL; exit 4 when the app has none. */
export async function loadDestroyTarget(
  client: ScalingoClient,
  app: string,
  commandLine: CommandLine,
): Promise<DestroyTarget> {
  const addon = await requireTcpAddon(client, app, commandLine)
  return {app, addon: addonView(addon), tcpUrl: (await readTcpUrl(client, app)) ?? null}
}

export function destroyWarning(target: DestroyTarget): string {
  const url = target.tcpUrl ? `TCP_URL (${target.tcpUrl})` : 'TCP_URL'
  return `This removes the TCP Gateway addon ${target.addon.id} of ${target.app}: ${url} goes away and its public port stops accepting connections.`
}

/** The typed (or --confirm) app name must match; without one and without a terminal, --confirm is required. */
export function checkConfirmation(app: string, typed: string | undefined, commandLine: CommandLine): void {
  const retry = `${commandLine('addons:tcp:destroy')} -a ${app} --confirm ${app}`
  if (typed === undefined) {
    throw new UsageError('Removing the TCP Gateway addon needs a confirmation, and there is no terminal to ask on.', [
      `Confirm with the app name: \`${retry}\``,
    ])
  }

  if (typed.trim() !== app) {
    throw new CliError(`Confirmation '${typed.trim()}' does not match the app name ${app}: nothing was removed.`, {
      code: 'CONFIRMATION_MISMATCH',
      suggestions: [`Confirm with the exact app name: \`${retry}\``],
    })
  }
}

export async function destroyTcpAddon(client: ScalingoClient, target: DestroyTarget): Promise<DestroyResult> {
  await destroyAddon(client, target.app, target.addon.id)
  return {...target, destroyed: true}
}
