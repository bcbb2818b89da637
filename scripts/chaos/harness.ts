/**
 * The chaos run: its own PostgreSQL 15, 3 replicas of the real service behind the round-robin proxy, the
 * mixed load, and the faults spread over the run (kill -9 of a random replica, restarted at once; Postgres
 * crash-stopped and started again; one SIGTERM rolling restart at the end). Then the load stops, the system
 * settles, and the checks count what was lost or doubled.
 */
import type { ServiceProcess } from "../../test/support/ServiceProcess.ts"
import { startFakeOpenAI } from "../../test/support/FakeOpenAI.ts"
import { chatLoop, newChatLog, type ChatLog } from "./chat.ts"
import { losses, lastEventIds, unfinishedImports, type Losses } from "./checks.ts"
import { countError, newStats, send, type Stats } from "./client.ts"
import { postgres, query, startReplica, stopReplica } from "./cluster.ts"
import { createProject, editLoop, importLoop, subscribe, userToken, type EditLog, type ImportLog, type Subscriber } from "./load.ts"
import { startProxy } from "./proxy.ts"

export interface ChaosOptions {
  readonly kills: number
  readonly pgRestarts: number
  readonly seconds: number
  readonly replicas: number
  readonly pgPort: number
  /** How long Postgres stays down per restart. */
  readonly pgDownMs: number
  readonly log: (line: string) => void
}

export interface Fault {
  readonly kind: "kill -9" | "postgres restart" | "sigterm"
  /** performance.now() when the fault took effect (the kill; Postgres accepting connections again). */
  readonly at: number
}

export interface ChaosResult {
  readonly stats: Stats
  readonly faults: ReadonlyArray<Fault>
  /** Milliseconds from each fault to the next successful request started after it, per fault kind. */
  readonly recovery: ReadonlyMap<Fault["kind"], ReadonlyArray<number>>
  readonly losses: Losses
  readonly imports: number
  readonly edits: number
  readonly events: number
  readonly reconnects: number
  readonly chat: ChatLog
  /** What the checks found wrong, one line each. */
  readonly details: ReadonlyArray<string>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const recoveryTimes = (faults: ReadonlyArray<Fault>, stats: Stats) => {
  const byKind = new Map<Fault["kind"], Array<number>>()
  for (const fault of faults) {
    const after = stats.successes.filter(([started]) => started >= fault.at).map(([, ended]) => ended)
    if (after.length === 0) continue
    byKind.set(fault.kind, [...(byKind.get(fault.kind) ?? []), Math.min(...after) - fault.at])
  }
  return byKind
}

export const runChaos = async (options: ChaosOptions): Promise<ChaosResult> => {
  const pg = postgres(options.pgPort)
  await pg.remove()
  await pg.start()
  const proxy = await startProxy()
  // The model: a fake OpenAI streaming 40 words, 40 ms apart, so runs are still streaming when faults hit.
  const fake = await startFakeOpenAI()
  const words = Array.from({ length: 40 }, (_, i) => ` word${i}`)
  fake.setDefaultChat({ kind: "stream", deltas: words, delayMs: 40 })
  const env = { OPENAI_BASE_URL: fake.baseUrl, OPENAI_API_KEY: fake.apiKey, COGO_CHAT_STALE_AFTER: "2 seconds" }
  const chat = newChatLog()
  const replicas: Array<ServiceProcess> = []
  const names: Array<string> = []
  const publish = () => proxy.setBackends(replicas.map((r, i) => ({ name: names[i]!, port: Number(new URL(r.baseUrl).port) })))
  const stats = newStats()
  const faults: Array<Fault> = []
  let generation = 0
  try {
    // The first replica migrates; the others start after it.
    for (let i = 0; i < options.replicas; i++) {
      names.push(`r${i}-${generation}`)
      replicas.push(await startReplica(pg.url, names[i]!, env))
    }
    publish()
    options.log(`chaos: ${options.replicas} replicas up behind 127.0.0.1:${proxy.port}`)

    const users = ["c4a05000-0000-4000-8000-000000000001", "c4a05000-0000-4000-8000-000000000002"]
    const tokens = await Promise.all(users.map(userToken))
    const projects: Array<string> = []
    const edits = new Map<string, EditLog>()
    for (const [u, token] of tokens.entries()) {
      for (let p = 0; p < 2; p++) {
        const id = await createProject(proxy.port, stats, token, `chaos ${u}-${p}`)
        projects.push(id)
        edits.set(id, { applied: [], ambiguous: 0 })
      }
    }
    const since = Number((await query<{ since: string }>(pg.url, "SELECT coalesce(max(id), 0) AS since FROM cogo.bus_events"))[0]?.since ?? 0)
    const subscribers: Array<Subscriber> = projects.flatMap((projectId) =>
      [0, 1].map(() => ({ projectId, since, received: [], reconnects: 0 })))
    const imports: ImportLog = { accepted: new Map(), attempted: 0 }

    let loadOn = true
    let subscribersOn = true
    const running = { until: () => !loadOn }
    const ownerOf = (projectId: string) => tokens[Math.floor(projects.indexOf(projectId) / 2)]!
    const loops = [
      ...tokens.map((token, u) => importLoop(proxy.port, stats, token, users[u]!, projects.slice(u * 2, u * 2 + 2), imports, running)),
      ...tokens.map((token) => chatLoop(proxy.port, stats, token, words.join(""), chat, running)),
      ...projects.map((projectId) => editLoop(proxy.port, stats, ownerOf(projectId), projectId, edits.get(projectId)!, running))
    ]
    const streams = subscribers.map((sub) => subscribe(proxy.port, ownerOf(sub.projectId), sub, () => !subscribersOn))

    // Faults, evenly spread over the run; the rolling restart last.
    const plan: Array<Fault["kind"]> = [
      ...Array.from({ length: options.kills }, () => "kill -9" as const),
      ...Array.from({ length: options.pgRestarts }, () => "postgres restart" as const)
    ].sort(() => Math.random() - 0.5)
    plan.push("sigterm")
    const started = performance.now()
    const gap = (options.seconds * 1000) / (plan.length + 1)
    // A killed replica restarts in the background (the next faults do not wait for it); a kill never takes
    // the last running replica, so the figures measure failover, not the start-up time of the service.
    const restarting = new Map<number, Promise<void>>()
    const restart = (index: number, signal: NodeJS.Signals) => {
      const done = (async () => {
        const old = replicas[index]!
        await stopReplica(old, signal)
        if (signal === "SIGTERM" && (await old.exited) !== 0) countError(stats, "replica exit != 0 after SIGTERM")
        generation++
        names[index] = `r${index}-${generation}`
        // Like a supervisor: a replica that cannot start (Postgres away at that moment) is started again.
        for (let attempt = 1; ; attempt++) {
          const replica = await startReplica(pg.url, names[index]!, env).catch((error: unknown) => {
            if (attempt >= 20) throw error
            countError(stats, "replica start-up failed (restarted)")
            return undefined
          })
          if (replica !== undefined) {
            replicas[index] = replica
            break
          }
          await sleep(500)
        }
        publish()
        restarting.delete(index)
        options.log(`chaos: ${names[index]} up in ${Math.round(replicas[index]!.startupMs)} ms`)
      })()
      restarting.set(index, done)
      return done
    }
    for (const [n, kind] of plan.entries()) {
      const due = started + gap * (n + 1)
      if (due > performance.now()) await sleep(due - performance.now())
      if (kind === "kill -9") {
        while (replicas.length - restarting.size < 2) await Promise.race(restarting.values())
        const running = replicas.map((_, i) => i).filter((i) => !restarting.has(i))
        faults.push({ kind, at: performance.now() })
        void restart(running[Math.floor(Math.random() * running.length)]!, "SIGKILL")
      } else if (kind === "postgres restart") {
        await pg.stop()
        await sleep(options.pgDownMs)
        await pg.start()
        faults.push({ kind, at: performance.now() })
      } else {
        await Promise.all(restarting.values())
        faults.push({ kind, at: performance.now() })
        for (let i = 0; i < replicas.length; i++) await restart(i, "SIGTERM")
      }
      options.log(`chaos: ${kind} (${n + 1}/${plan.length}) at ${Math.round((performance.now() - started) / 1000)} s`)
    }
    await Promise.all(restarting.values())
    if (performance.now() - started < options.seconds * 1000) await sleep(options.seconds * 1000 - (performance.now() - started))

    loadOn = false
    await Promise.all(loops)
    options.log("chaos: load stopped, waiting for jobs, projection and subscribers to settle")
    const settleUntil = performance.now() + 90_000
    while (performance.now() < settleUntil && (await unfinishedImports(pg.url)) > 0) await sleep(250)
    const targets = await lastEventIds(pg.url, projects)
    const caughtUp = () => subscribers.every((sub) => {
      const target = Number(targets.find((t) => t.project_id === sub.projectId)?.id ?? 0)
      return target === 0 || sub.received.includes(target)
    })
    const catchUntil = performance.now() + 15_000
    while (performance.now() < catchUntil && !caughtUp()) await sleep(100)
    subscribersOn = false
    await Promise.all(streams)
    // A probe through the proxy: the service answers after everything.
    await send(proxy.port, stats, { method: "GET", path: "/health" })

    const checked = await losses(pg.url, imports, projects, edits, subscribers)
    return {
      stats,
      faults,
      recovery: recoveryTimes(faults, stats),
      losses: checked.losses,
      imports: imports.accepted.size,
      edits: [...edits.values()].reduce((n, log) => n + log.applied.length, 0),
      events: subscribers.reduce((n, sub) => n + sub.received.length, 0),
      reconnects: subscribers.reduce((n, sub) => n + sub.reconnects, 0),
      chat,
      details: checked.details
    }
  } finally {
    await Promise.all(replicas.map((r) => stopReplica(r, "SIGKILL")))
    await proxy.close()
    await fake.close()
    await pg.remove()
  }
}
