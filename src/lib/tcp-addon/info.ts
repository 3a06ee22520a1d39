import type {CommandLine} from '../command-line.js'
import {getFormation, listContainers} from '../api/addons.js'
import type {ScalingoClient} from '../api/client.js'
import {keyValueBlock, table} from '../output/render.js'
import {type AddonView, addonView, readTcpUrl, requireTcpAddon, type TcpEndpoint, tcpEndpoint} from './common.js'

export interface TcpContainerView {
  name: string
  state: string
  size: string | null
}

/** What `addons:tcp:info --json` prints. */
export interface TcpInfo extends TcpEndpoint {
  app: string
  addon: AddonView
  /** The `tcp` process type of the formation; null when the app has none (no `tcp:` Procfile line deployed). */
  formation: {amount: number; size: string | null} | null
  containers: TcpContainerView[]
}

/** Reads the addon, TCP_URL, formation and `tcp` containers from the API; exit 4 without an addon. */
export async function loadTcpInfo(client: ScalingoClient, app: string, commandLine: CommandLine): Promise<TcpInfo> {
  const addon = await requireTcpAddon(client, app, commandLine)
  const [tcpUrl, formation, containers] = await Promise.all([
    readTcpUrl(client, app),
    getFormation(client, app),
    listContainers(client, app),
  ])
  const tcp = formation.find((f) => f.name === 'tcp')
  return {
    app,
    addon: addonView(addon),
    ...tcpEndpoint(tcpUrl),
    formation: tcp ? {amount: tcp.amount, size: tcp.size || null} : null,
    containers: containers
      .filter((c) => c.type === 'tcp')
      .map((c) => ({
        name: c.label ?? `${c.type}-${c.type_index ?? '?'}`,
        state: c.state,
        size: c.size || c.container_size?.name || null,
      })),
  }
}

/** Heroku/Scalingo-style text; independent of where the data came from (API today, a local gateway later). */
export function renderTcpInfo(info: TcpInfo): string {
  const plan = info.addon.planDisplayName ? `${info.addon.plan} (${info.addon.planDisplayName})` : info.addon.plan
  const formation =
    info.formation === null
      ? 'no tcp process type (add a `tcp:` line to the Procfile and deploy)'
      : `tcp:${info.formation.amount}${info.formation.size ? `:${info.formation.size}` : ''}`
  let text = keyValueBlock(`TCP Gateway addon of ${info.app}`, [
    ['Addon', info.addon.id],
    ['Plan', plan],
    ['Status', info.addon.status],
    ['Provisioned', info.addon.provisionedAt ?? 'unknown'],
    ['TCP_URL', info.tcpUrl ?? 'not set yet'],
    ['Host', info.host],
    ['Port', info.port],
    ['Formation', formation],
  ])
  text += '\n=== tcp containers\n'
  if (info.containers.length > 0) {
    text += table(
      ['Name', 'State', 'Size'],
      info.containers.map((c) => [c.name, c.state, c.size ?? '']),
    )
  } else {
    const scaleHint = info.formation ? `: scale it with \`scalingo --app ${info.app} scale tcp:1\`` : ''
    text += `No tcp container is running${scaleHint}.\n`
  }

  return text
}
