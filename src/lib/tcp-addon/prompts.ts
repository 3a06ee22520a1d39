import type {Plan} from '../api/addons.js'

/*
 * The prompts of the addons:tcp commands. @inquirer/prompts is imported only when a prompt is
 * shown, and prompts write to stderr so stdout keeps only the data. Callers check canPrompt() first.
 */

const context = () => ({input: process.stdin, output: process.stderr})

export function planLabel(plan: Plan): string {
  const price = typeof plan.price === 'number' ? (plan.price === 0 ? 'free' : `price ${plan.price}`) : 'price unknown'
  return `${plan.name} - ${plan.display_name ?? plan.name} (${price})`
}

export async function selectPlan(plans: Plan[], defaultName: string): Promise<Plan> {
  const {select} = await import('@inquirer/prompts')
  const byDefault = plans.find((p) => p.name === defaultName)
  return select<Plan>(
    {
      message: 'Which TCP Gateway plan?',
      choices: plans.map((plan) => ({name: planLabel(plan), value: plan})),
      default: byDefault,
    },
    context(),
  )
}

export async function confirmScaleTcp(app: string): Promise<boolean> {
  const {confirm} = await import('@inquirer/prompts')
  return confirm(
    {message: `The tcp process type of ${app} is scaled to 0. Scale it to 1 container now?`, default: true},
    context(),
  )
}

export async function askAppName(app: string): Promise<string> {
  const {input} = await import('@inquirer/prompts')
  return input({message: `Type the app name (${app}) to confirm:`}, context())
}
