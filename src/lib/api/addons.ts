import type {ScalingoClient} from './client.js'
import {InvalidResponseError} from './errors.js'

/*
 * Addons, plans, formation, containers, restart and operations: one typed function per API call,
 * taking the client first (shapes from ../shared/platform/scalingo-api.md sections 3, 4, 6, 7).
 */

export const TCP_GATEWAY_PROVIDER_ID = 'tcp-gateway'
export const DEFAULT_TCP_PLAN = 'tcplb'

export interface Plan {
  id: string
  name: string
  display_name?: string
  price?: number
  description?: string
  position?: number
  disabled?: boolean
  [key: string]: unknown
}

export type AddonStatus = 'provisioning' | 'running' | 'suspended' | (string & {})

export interface Addon {
  id: string
  app_id?: string
  provisioned_at?: string
  deprovisioned_at?: string | null
  status: AddonStatus
  plan: Plan
  resource_id?: string
  addon_provider: {id: string; name?: string; logo_url?: string}
  updated_at?: string
}

export interface ProvisionResult {
  /** Absent when the platform answered without a body: the caller looks the addon up. */
  addon?: Addon
  /** The provider's message, when the platform sends one. */
  message?: string
  /** Names of the variables the addon set, when the platform says. */
  variables?: string[]
}

/** One process type of the formation (`GET /apps/:app/containers`). */
export interface FormationType {
  name: string
  amount: number
  size?: string
  [key: string]: unknown
}

/** One running container (`GET /apps/:app/ps`). */
export interface Container {
  id?: string
  type: string
  type_index?: number
  label?: string
  state: string
  size?: string
  container_size?: {name?: string; human_name?: string}
  [key: string]: unknown
}

export type OperationStatus = 'pending' | 'running' | 'done' | 'error' | (string & {})

export interface Operation {
  id: string
  created_at?: string
  finished_at?: string | null
  status: OperationStatus
  type?: string
  error?: string
}

/** An asynchronous platform task started by a request: its id comes from the `Location` header. */
export interface StartedOperation {
  operationId?: string
  location?: string
}

const appPath = (app: string) => `/v1/apps/${encodeURIComponent(app)}`

export async function listAddons(client: ScalingoClient, app: string): Promise<Addon[]> {
  const body = await client.get<{addons?: Addon[]}>(`${appPath(app)}/addons`, {names: {app}})
  // No list at all is not "no addons": deciding the app has no addon from a broken answer would mislead.
  if (!Array.isArray(body?.addons))
    throw new InvalidResponseError(`The Scalingo API's list of addons of ${app} has no \`addons\` array.`, 200)
  return body.addons
}

/** The app's TCP Gateway addon, or undefined when it has none. */
export async function findTcpAddon(client: ScalingoClient, app: string): Promise<Addon | undefined> {
  return (await listAddons(client, app)).find((a) => a.addon_provider?.id === TCP_GATEWAY_PROVIDER_ID)
}

export async function listPlans(client: ScalingoClient, providerId: string): Promise<Plan[]> {
  const body = await client.get<{plans?: Plan[]}>(`/v1/addon_providers/${encodeURIComponent(providerId)}/plans`, {
    names: {addon_provider: providerId},
    searchParams: {show_all: false},
  })
  if (!Array.isArray(body?.plans))
    throw new InvalidResponseError(`The Scalingo API's list of plans of ${providerId} has no \`plans\` array.`, 200)
  return body.plans
}

/** `POST /apps/:app/addons`: tolerates `{addon, message, variables}`, `{addon}` and an empty body. */
export async function provisionAddon(
  client: ScalingoClient,
  app: string,
  options: {providerId: string; planId: string},
): Promise<ProvisionResult> {
  const {body} = await client.post<ProvisionResult | undefined>(
    `${appPath(app)}/addons`,
    {addon: {addon_provider_id: options.providerId, plan_id: options.planId}},
    {names: {app}},
  )
  if (!body || typeof body !== 'object') return {}
  const addon =
    body.addon && typeof body.addon === 'object' && typeof body.addon.id === 'string' ? body.addon : undefined
  return {
    addon,
    message: typeof body.message === 'string' && body.message ? body.message : undefined,
    variables: Array.isArray(body.variables) ? body.variables.filter((v) => typeof v === 'string') : undefined,
  }
}

export async function getAddon(client: ScalingoClient, app: string, addonId: string): Promise<Addon> {
  const body = await client.get<{addon?: Addon}>(`${appPath(app)}/addons/${encodeURIComponent(addonId)}`, {
    names: {app, addon: addonId},
  })
  if (!body?.addon) throw new InvalidResponseError(`The Scalingo API returned no addon for ${addonId}.`, 200)
  return body.addon
}

export async function destroyAddon(client: ScalingoClient, app: string, addonId: string): Promise<void> {
  await client.delete(`${appPath(app)}/addons/${encodeURIComponent(addonId)}`, {names: {app, addon: addonId}})
}

export async function getFormation(client: ScalingoClient, app: string): Promise<FormationType[]> {
  const body = await client.get<{containers?: FormationType[]}>(`${appPath(app)}/containers`, {names: {app}})
  return body?.containers ?? []
}

export async function listContainers(client: ScalingoClient, app: string): Promise<Container[]> {
  const body = await client.get<{containers?: Container[]}>(`${appPath(app)}/ps`, {names: {app}})
  return body?.containers ?? []
}

/** `POST /apps/:app/scale`: 202 with a `Location`, or 200 without one when the app was never deployed. */
export async function scale(
  client: ScalingoClient,
  app: string,
  containers: Array<{name: string; amount: number; size?: string}>,
): Promise<StartedOperation & {formation: FormationType[]}> {
  const response = await client.post<{containers?: FormationType[]}>(
    `${appPath(app)}/scale`,
    {containers},
    {
      names: {app, container_type: containers.map((c) => c.name).join(', ')},
    },
  )
  return {...started(response.headers), formation: response.body?.containers ?? []}
}

/** `POST /apps/:app/restart` with a scope (`["tcp"]`); 202 with a `Location`. */
export async function restart(client: ScalingoClient, app: string, scope: string[]): Promise<StartedOperation> {
  const response = await client.post(`${appPath(app)}/restart`, {scope}, {names: {app}})
  return started(response.headers)
}

export async function getOperation(client: ScalingoClient, app: string, operationId: string): Promise<Operation> {
  const body = await client.get<{operation?: Operation}>(
    `${appPath(app)}/operations/${encodeURIComponent(operationId)}`,
    {
      names: {app, operation: operationId},
    },
  )
  if (!body?.operation)
    throw new InvalidResponseError(`The Scalingo API returned no operation for ${operationId}.`, 200)
  return body.operation
}

/** `https://api.../v1/apps/my-app/operations/52fd...` -> `52fd...` (the basename, as the Scalingo CLI does). */
export function operationIdFromLocation(location: string | undefined): string | undefined {
  if (!location) return undefined
  let path = location
  try {
    path = new URL(location, 'http://relative.invalid').pathname
  } catch {
    // keep the raw value
  }

  const id = path.split('/').filter(Boolean).pop()
  return id ? decodeURIComponent(id) : undefined
}

function started(headers: Record<string, string | string[] | undefined>): StartedOperation {
  const raw = headers.location
  const location = Array.isArray(raw) ? raw[0] : raw
  return {location, operationId: operationIdFromLocation(location)}
}
