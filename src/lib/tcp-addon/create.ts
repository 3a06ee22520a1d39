import {join} from 'node:path'

import {
  type Addon,
  DEFAULT_TCP_PLAN,
  findTcpAddon,
  getAddon,
  getFormation,
  listPlans,
  type Plan,
  provisionAddon,
  scale,
  TCP_GATEWAY_PROVIDER_ID,
} from '../api/addons.js'
import type {CommandLine} from '../command-line.js'
import type {ScalingoClient} from '../api/client.js'
import {type CheckResult, waitFor, waitForOperation} from '../api/wait.js'
import {CliError, UsageError} from '../errors.js'
import {keyValueBlock} from '../output/render.js'
import {readProcfile} from '../procfile/procfile.js'
import {type AddonView, addonView, readTcpUrl, type TcpEndpoint, tcpEndpoint} from './common.js'
import {planLabel} from './prompts.js'
import {operationFailed} from './restart.js'

/** What `addons:tcp:create --json` prints. */
export interface CreateResult extends TcpEndpoint {
  app: string
  addon: AddonView
  /** The addon provider's message, when the platform sends one. */
  message: string | null
  /** False with --no-wait: the addon may still be provisioning and TCP_URL may be null. */
  waited: boolean
  formation: {
    /** Whether the app has a `tcp` process type (a deployed `tcp:` Procfile line). */
    hasTcpType: boolean
    /** tcp containers after this command (null without a tcp type). */
    amount: number | null
    /** Set when this command scaled tcp (--scale or the prompt). */
    scaledTo: number | null
  }
  /** The warnings printed on stderr (missing tcp type, tcp scaled to 0...). */
  warnings: string[]
}

export interface CreateOptions {
  app: string
  plan?: string
  wait: boolean
  timeoutMs: number
  scale?: number
  commandLine: CommandLine
  /** Where to look for a local Procfile to quote in the missing-`tcp` warning. */
  cwd: string
  signal?: AbortSignal
}

/** The interactive and progress parts, supplied by the command (prompts only on a TTY). */
export interface CreateUi {
  pickPlan?: (plans: Plan[], defaultName: string) => Promise<Plan>
  confirmScale?: () => Promise<boolean>
  progress: (text: string) => Promise<void> | void
  done: (text: string) => void
  warn: (text: string) => void
}

export async function createTcpAddon(
  client: ScalingoClient,
  options: CreateOptions,
  ui: CreateUi,
): Promise<CreateResult> {
  const {app, commandLine} = options
  const existing = await findTcpAddon(client, app)
  if (existing) {
    throw new CliError(`App ${app} already has a TCP Gateway addon (${existing.id}, plan ${existing.plan?.name}).`, {
      code: 'ALREADY_EXISTS',
      suggestions: [`See it with \`${commandLine('addons:tcp:info')} -a ${app}\``],
    })
  }

  const plan = await resolvePlan(await listPlans(client, TCP_GATEWAY_PROVIDER_ID), options.plan, ui.pickPlan)
  await ui.progress(`Provisioning the TCP Gateway addon (plan ${plan.name}) on ${app}`)
  const provisioned = await provisionAddon(client, app, {providerId: TCP_GATEWAY_PROVIDER_ID, planId: plan.id})
  const accepted = provisioned.addon ?? (await findTcpAddon(client, app))
  if (!accepted) {
    throw new CliError(`The addon was accepted but does not show in the addons of ${app} yet.`, {
      suggestions: [`Check later with \`${commandLine('addons:tcp:info')} -a ${app}\``],
    })
  }

  let addon = accepted
  let tcpUrl: string | undefined
  if (options.wait) {
    ;({addon, tcpUrl} = await waitUntilRunning(client, accepted, options, ui))
    ui.done(`TCP Gateway addon ${addon.id} is running on ${app}`)
  } else {
    tcpUrl = await readTcpUrl(client, app)
    ui.done(`TCP Gateway addon ${addon.id} requested on ${app} (status: ${addon.status})`)
  }

  const warnings: string[] = []
  const warn = (text: string) => {
    warnings.push(text)
    ui.warn(text)
  }

  if (!tcpUrl) warn(`TCP_URL is not set yet: read it later with \`${commandLine('env')} TCP_URL -a ${app}\`.`)
  const formation = await ensureTcpScaled(client, options, ui, warn)
  return {
    app,
    addon: addonView(addon),
    ...tcpEndpoint(tcpUrl),
    message: provisioned.message ?? null,
    waited: options.wait,
    formation,
    warnings,
  }
}

/** Polls the new addon until it is `running` and TCP_URL is in the app's variables (it may come a little later). */
async function waitUntilRunning(
  client: ScalingoClient,
  accepted: Addon,
  options: CreateOptions,
  ui: CreateUi,
): Promise<{addon: Addon; tcpUrl: string}> {
  const {app} = options
  const waitingText = (status: string) => `Waiting for the TCP Gateway addon of ${app}: ${status}`
  await ui.progress(waitingText(accepted.status))
  return waitFor(
    async (): Promise<CheckResult<{addon: Addon; tcpUrl: string}>> => {
      const addon = await getAddon(client, app, accepted.id)
      if (addon.status !== 'running') return {done: false, status: addon.status}
      const tcpUrl = await readTcpUrl(client, app)
      return tcpUrl ? {done: true, value: {addon, tcpUrl}} : {done: false, status: 'running, waiting for TCP_URL'}
    },
    {
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      onProgress: (status) => void ui.progress(waitingText(status)),
      what: 'the TCP Gateway addon to be running with TCP_URL set',
      checkLater: `${options.commandLine('addons:tcp:info')} -a ${app}`,
    },
  )
}

/** --plan by name; else a pick among several plans on a TTY; else `tcplb` or the only plan. Never a hard-coded id. */
export async function resolvePlan(plans: Plan[], name: string | undefined, pick?: CreateUi['pickPlan']): Promise<Plan> {
  const available = plans.filter((p) => !p.disabled)
  const names = available.map((p) => planLabel(p)).join(', ') || 'none'
  if (name) {
    const found = plans.find((p) => p.name === name)
    if (!found) throw new UsageError(`The TCP Gateway has no plan named '${name}'.`, [`Available plans: ${names}`])
    return found
  }

  if (available.length > 1 && pick) return pick(available, DEFAULT_TCP_PLAN)
  const chosen =
    available.find((p) => p.name === DEFAULT_TCP_PLAN) ?? (available.length === 1 ? available[0] : undefined)
  if (!chosen) {
    throw new UsageError(`Cannot choose a TCP Gateway plan: there is no '${DEFAULT_TCP_PLAN}' plan.`, [
      `Name one with --plan; available plans: ${names}`,
    ])
  }

  return chosen
}

async function ensureTcpScaled(
  client: ScalingoClient,
  options: CreateOptions,
  ui: CreateUi,
  warn: (text: string) => void,
): Promise<CreateResult['formation']> {
  const {app, commandLine} = options
  const scaleHint = `\`scalingo --app ${app} scale tcp:1\``
  const tcp = (await getFormation(client, app)).find((f) => f.name === 'tcp')
  if (!tcp) {
    const local = await localTcpLine(options.cwd)
    const todo = local
      ? `deploy the \`tcp:\` line of your local Procfile (\`tcp: ${local}\`)`
      : 'add a `tcp:` line to the Procfile (e.g. `tcp: node server.js`, listening on $PORT) and deploy'
    warn(`App ${app} has no tcp process type yet: ${todo}, then scale it with ${scaleHint}.`)
    return {hasTcpType: false, amount: null, scaledTo: null}
  }

  // Only a tcp type at 0 is scaled: --scale never resizes containers that already run (it could scale them down).
  const unchanged = {hasTcpType: true, amount: tcp.amount, scaledTo: null}
  if (tcp.amount > 0) {
    if (options.scale !== undefined && options.scale !== tcp.amount) {
      warn(
        `The tcp process type of ${app} already runs ${tcp.amount} container(s): --scale ${options.scale} left it as it is (scale it with \`scalingo --app ${app} scale tcp:${options.scale}\`).`,
      )
    }

    return unchanged
  }

  const target = options.scale ?? (ui.confirmScale && (await ui.confirmScale()) ? 1 : undefined)
  if (target === undefined) {
    warn(
      `The tcp process type of ${app} is scaled to 0, so nothing answers on TCP_URL: scale it with ${scaleHint} (or pass --scale 1).`,
    )
    return unchanged
  }

  await ui.progress(`Scaling tcp to ${target} on ${app}`)
  const started = await scale(client, app, [{name: 'tcp', amount: target}])
  if (options.wait && started.operationId) {
    const operation = await waitForOperation(client, app, started.operationId, {
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      onProgress: (status) => void ui.progress(`Scaling tcp to ${target} on ${app}: ${status}`),
      what: `tcp to be scaled to ${target}`,
      checkLater: `${commandLine('addons:tcp:info')} -a ${app}`,
    })
    if (operation.status === 'error') throw operationFailed(operation, `Scaling tcp to ${target}`, app)
  }

  ui.done(`Scaled tcp to ${target} on ${app}`)
  return {hasTcpType: true, amount: target, scaledTo: target}
}

async function localTcpLine(cwd: string): Promise<string | undefined> {
  try {
    return (await readProcfile(join(cwd, 'Procfile'))).entries.find((e) => e.name === 'tcp')?.command
  } catch {
    return undefined
  }
}

/** The stderr summary: the addon, the public endpoint, and the $PORT reminder. */
export function renderCreateSummary(result: CreateResult): string {
  const plan = result.addon.planDisplayName
    ? `${result.addon.plan} (${result.addon.planDisplayName})`
    : result.addon.plan
  const f = result.formation
  let text = keyValueBlock(`TCP Gateway addon of ${result.app}`, [
    ['Addon', result.addon.id],
    ['Plan', plan],
    ['Status', result.addon.status],
    ['Host', result.host],
    ['Port', result.port],
    ['Formation', f.hasTcpType ? `tcp:${f.amount}` : 'no tcp process type'],
    ['Message', result.message],
  ])
  const port = result.port ? `port ${result.port}` : "TCP_URL's port"
  text += `Your tcp process must listen on $PORT, not on ${port}: the gateway forwards ${port} to $PORT.\n`
  return text
}
