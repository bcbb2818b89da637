/**
 * `npm run bench -- chat-tools [turns]`: a three-tool chat turn (create_component, create_page,
 * link_component) against the scripted OpenAI-compatible server, each write step asking for approval and
 * approved over HTTP the way the AI SDK client answers (the assistant message resent with the approval on its
 * tool part). Measured per turn: each approval to its `tool-output-available` (the step applied through the
 * project commands), the last approval to the linked page visible in `/rest/v1` (projection included), and
 * the whole turn from the user's message to visible.
 */
import { Effect } from "effect"
import { ProjectCommands } from "../src/services/cqrs/ProjectCommands.ts"
import { devUserId } from "../src/services/auth/Auth.ts"
import { startFakeOpenAI, toolResults } from "../test/support/FakeOpenAI.ts"
import { chatBenchEnv, startService } from "./_edge.ts"
import { fmt, printTable, summarize } from "./_table.ts"

type Chunk = { readonly type: string; readonly [k: string]: unknown }

/** POSTs a chat request and reads its stream to the end; `outputAt`: when the first tool output arrived. */
const post = async (url: string, body: unknown): Promise<{ readonly chunks: ReadonlyArray<Chunk>; readonly outputAt: number | undefined }> => {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
  if (response.status !== 200) throw new Error(`chat answered ${response.status}: ${await response.text()}`)
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ""
  let outputAt: number | undefined
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    text += value
    if (outputAt === undefined && text.includes(`"type":"tool-output-available"`)) outputAt = performance.now()
  }
  const chunks = text.split("\n").filter((line) => line.startsWith("data: ") && line !== "data: [DONE]").map((line) => JSON.parse(line.slice(6)) as Chunk)
  return { chunks, outputAt }
}

const idsOf = (body: Record<string, unknown>) => toolResults(body).map((r) => (r as { changed: ReadonlyArray<{ id: string }> }).changed[0]!.id)

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const turns = Number(args[0] ?? 50)
  const fake = await startFakeOpenAI()
  const service = await startService(chatBenchEnv(fake))
  const projectId = crypto.randomUUID()
  await Effect.runPromise(Effect.provide(Effect.gen(function*() {
    const commands = yield* ProjectCommands
    yield* commands.upsert("project", { id: projectId, name: "bench", description: null, ownerId: devUserId, settings: {} })
  }), service.context))
  // Chat needs the membership the projection creates with the project's row.
  while ((await (await fetch(`${service.url}/rest/v1/projects?select=id&id=eq.${projectId}`)).json() as ReadonlyArray<unknown>).length === 0) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const chatUrl = `${service.url}/functions/v1/chat`

  const turn = async (i: number) => {
    fake.scriptChat(
      { kind: "tools", calls: [{ name: "create_component", arguments: { name: `Button ${i}`, definition: { tree: { type: "Text", data: "Buy" } } } }] },
      { kind: "tools", calls: [{ name: "create_page", arguments: { name: `Page ${i}` } }] },
      { kind: "tools", calls: (body) => [{ name: "link_component", arguments: { pageId: idsOf(body)[1], componentId: idsOf(body)[0] } }] },
      { kind: "stream", deltas: ["Done."] }
    )
    const user = { id: `u-${i}`, role: "user", parts: [{ type: "text", text: "add a button page" }] }
    const started = performance.now()
    let chunks = (await post(chatUrl, { id: `bench-${i}`, projectId, messages: [user] })).chunks
    const steps: Array<number> = []
    const rounds: Array<number> = []
    let pageId: string | undefined
    let lastApproval = 0
    for (let step = 0; step < 3; step++) {
      const request = chunks.find((c) => c.type === "tool-approval-request")
      const messageId = chunks.find((c) => c.type === "start")?.["messageId"]
      if (request === undefined) throw new Error(`step ${step}: no approval request in ${JSON.stringify(chunks).slice(0, 400)}`)
      const assistant = {
        id: messageId,
        role: "assistant",
        parts: [{ type: "dynamic-tool", toolCallId: request["toolCallId"], state: "approval-responded", approval: { id: request["approvalId"], approved: true } }]
      }
      lastApproval = performance.now()
      const answered = await post(chatUrl, { id: `bench-${i}`, projectId, messages: [user, assistant] })
      chunks = answered.chunks
      const output = chunks.find((c) => c.type === "tool-output-available") as { output?: { changed?: ReadonlyArray<{ kind: string; id: string }> } } | undefined
      if (output === undefined || answered.outputAt === undefined) throw new Error(`step ${step}: not applied: ${JSON.stringify(chunks).slice(0, 400)}`)
      steps.push(answered.outputAt - lastApproval)
      rounds.push(performance.now() - lastApproval)
      if (step === 1) pageId = output.output?.changed?.[0]?.id
    }
    for (;;) {
      const response = await fetch(`${service.url}/rest/v1/pages?select=definition&id=eq.${pageId}`)
      const rows = await response.json() as ReadonlyArray<{ definition: { tree?: { children?: ReadonlyArray<{ type: string }> } } }>
      if (rows[0]?.definition.tree?.children?.some((c) => c.type === "SymbolInstance") === true) break
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    const now = performance.now()
    return { steps, rounds, visible: now - lastApproval, total: now - started }
  }

  for (let i = 0; i < 5; i++) await turn(-1 - i) // warm-up
  const stepSamples: Array<number> = []
  const roundSamples: Array<number> = []
  const visible: Array<number> = []
  const total: Array<number> = []
  for (let i = 0; i < turns; i++) {
    const result = await turn(i)
    stepSamples.push(...result.steps)
    roundSamples.push(...result.rounds)
    visible.push(result.visible)
    total.push(result.total)
  }
  const [s, r, v, t] = [summarize(stepSamples), summarize(roundSamples), summarize(visible), summarize(total)]
  printTable(`Chat tool turns: 3 approved write steps each, ${turns} sequential turns (${process.env["DATABASE_URL"] === undefined ? "embedded PGlite" : "PostgreSQL"})`,
    ["measure", "samples", "p50 ms", "p99 ms", "max ms"], [
      ["approval -> tool-output-available (step applied)", String(s.count), fmt(s.p50), fmt(s.p99), fmt(s.max)],
      ["approval request round trip (+ next model step)", String(r.count), fmt(r.p50), fmt(r.p99), fmt(r.max)],
      ["last approval -> linked page visible in /rest/v1", String(v.count), fmt(v.p50), fmt(v.p99), fmt(v.max)],
      ["user message -> visible (4 requests, 4 model steps)", String(t.count), fmt(t.p50), fmt(t.p99), fmt(t.max)]
    ])
  await service.close()
  await fake.close()
}
