import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, Ref, Schema } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { ToolFailed } from "../../src/domain/agents/AgentError.ts"
import { JobKinds } from "../../src/domain/jobs/Job.ts"
import { tool } from "../../src/domain/agents/Tool.ts"
import { ExecutorAgent, ProjectToolsLive } from "../../src/services/agents/ExecutorAgent.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { Outbox } from "../../src/services/cqrs/Outbox.ts"
import { ProjectCommands } from "../../src/services/cqrs/ProjectCommands.ts"
import { jobsLayer } from "./layers.ts"

const TestLayer = Layer.mergeAll(ProjectToolsLive, ExecutorAgent.jobs).pipe(
  Layer.provideMerge(ExecutorAgent.layer),
  Layer.provideMerge(ProjectCommands.layer),
  Layer.provideMerge(Outbox.layer),
  Layer.provideMerge(jobsLayer())
)

const Step = Schema.Struct({ name: Schema.String })

/** Tools that log what they do and undo into `log`. */
const registerLoggingTools = (log: Ref.Ref<ReadonlyArray<string>>, hang: { started: Deferred.Deferred<void>; hangs: Ref.Ref<number> }) =>
  Effect.gen(function*() {
    const executor = yield* ExecutorAgent
    const append = (entry: string) => Ref.update(log, (l) => [...l, entry])
    yield* executor.registerTool(tool({
      name: "test.step",
      description: "logs its run and its undo",
      input: Step,
      output: Schema.Struct({ done: Schema.String }),
      run: (input) => Effect.as(append(`run:${input.name}`), { done: input.name }),
      compensate: (input, output) => append(`undo:${input.name}:${output.done}`)
    }))
    yield* executor.registerTool(tool({
      name: "test.fail",
      description: "always fails permanently",
      input: Step,
      output: Schema.Struct({}),
      run: (input) => Effect.andThen(append(`run:${input.name}`), Effect.fail(new ToolFailed({ tool: "test.fail", message: `${input.name} failed`, retryable: false })))
    }))
    // Hangs the first `hangs` times it runs (a step that is running when the worker dies).
    const hanging = (name: string, idempotent: boolean) =>
      tool({
        name,
        description: "hangs, then succeeds",
        input: Step,
        output: Schema.Struct({ done: Schema.String }),
        idempotent,
        run: (input) =>
          Effect.gen(function*() {
            yield* append(`run:${input.name}`)
            const left = yield* Ref.getAndUpdate(hang.hangs, (n) => n - 1)
            if (left > 0) {
              yield* Deferred.succeed(hang.started, undefined)
              return yield* Effect.never
            }
            return { done: input.name }
          }),
        compensate: (input) => append(`undo:${input.name}`)
      })
    yield* executor.registerTool(hanging("test.hang", false))
    yield* executor.registerTool(hanging("test.hang-idempotent", true))
  })

const setup = Effect.gen(function*() {
  const log = yield* Ref.make<ReadonlyArray<string>>([])
  const hang = { started: yield* Deferred.make<void>(), hangs: yield* Ref.make(1) }
  yield* registerLoggingTools(log, hang)
  return { log, hang }
})

layer(TestLayer, { excludeTestServices: true })("executor sagas", (it) => {
  it.effect("failure at step 3 of 4 compensates step 2 then step 1; step 4 never runs", () =>
    Effect.scoped(Effect.gen(function*() {
      const { log } = yield* setup
      const executor = yield* ExecutorAgent
      const outcome = yield* executor.run({
        name: "four-steps",
        steps: [
          { tool: "test.step", input: { name: "one" } },
          { tool: "test.step", input: { name: "two" } },
          { tool: "test.fail", input: { name: "three" } },
          { tool: "test.step", input: { name: "four" } }
        ]
      })
      assert.strictEqual(outcome.state, "compensated")
      assert.deepStrictEqual(yield* Ref.get(log), ["run:one", "run:two", "run:three", "undo:two:two", "undo:one:one"])
      assert.deepStrictEqual(outcome.steps.map((s) => s.state), ["compensated", "compensated", "failed", "pending"])
      assert.strictEqual(outcome.steps[2]!.error?.message, "three failed")
      assert.deepStrictEqual(outcome.steps[0]!.output, { done: "one" })
    })))

  it.effect("invalid tool input fails the step before it runs and compensates the earlier ones", () =>
    Effect.scoped(Effect.gen(function*() {
      const { log } = yield* setup
      const executor = yield* ExecutorAgent
      const outcome = yield* executor.run({
        name: "bad-input",
        steps: [{ tool: "test.step", input: { name: "one" } }, { tool: "test.step", input: { nome: 2 } }]
      })
      assert.strictEqual(outcome.state, "compensated")
      assert.strictEqual(outcome.steps[1]!.error?.tag, "InvalidToolInput")
      assert.deepStrictEqual(yield* Ref.get(log), ["run:one", "undo:one:one"])
    })))

  it.effect("crash mid-saga, then resume: an in-doubt step makes it compensate; an idempotent one runs again", () =>
    Effect.scoped(Effect.gen(function*() {
      const { log, hang } = yield* setup
      const executor = yield* ExecutorAgent
      const sql = yield* SqlClient
      const crashed = yield* Effect.forkChild(executor.run({
        name: "crashes",
        steps: [
          { tool: "test.step", input: { name: "one" } },
          { tool: "test.hang", input: { name: "two" } },
          { tool: "test.step", input: { name: "three" } }
        ]
      }, { idempotencyKey: "crash-1" }))
      yield* Deferred.await(hang.started)
      yield* Fiber.interrupt(crashed) // the worker dies: nothing of the saga's own logic runs after this
      const [saga] = yield* sql<{ id: string; state: string }>`SELECT id, state FROM cogo.sagas WHERE idempotency_key = 'crash-1'`
      assert.strictEqual(saga!.state, "running")
      const persisted = yield* sql<{ state: string }>`SELECT state FROM cogo.saga_steps WHERE saga_id = ${saga!.id} ORDER BY step_index`
      assert.deepStrictEqual(persisted.map((s) => s.state), ["succeeded", "running", "pending"])

      const resumed = yield* executor.resume(saga!.id)
      assert.strictEqual(resumed.state, "compensated")
      assert.deepStrictEqual(resumed.steps.map((s) => s.state), ["compensated", "failed", "pending"])
      assert.strictEqual(resumed.steps[1]!.error?.tag, "InDoubt")
      assert.deepStrictEqual(yield* Ref.get(log), ["run:one", "run:two", "undo:one:one"])
      // Running the same key again returns the finished saga; nothing runs twice.
      const again = yield* executor.run({ name: "crashes", steps: [{ tool: "test.step", input: { name: "x" } }] }, { idempotencyKey: "crash-1" })
      assert.strictEqual(again.sagaId, saga!.id)
      assert.strictEqual((yield* Ref.get(log)).length, 3)

      yield* Ref.set(log, [])
      yield* Ref.set(hang.hangs, 1)
      const second = yield* Effect.forkChild(executor.run({
        name: "resumes",
        steps: [{ tool: "test.step", input: { name: "one" } }, { tool: "test.hang-idempotent", input: { name: "two" } }]
      }, { idempotencyKey: "crash-2" }))
      yield* Effect.gen(function*() {
        while (!(yield* Ref.get(log)).includes("run:two")) yield* Effect.sleep("10 millis")
      })
      yield* Fiber.interrupt(second)
      const [saga2] = yield* sql<{ id: string }>`SELECT id FROM cogo.sagas WHERE idempotency_key = 'crash-2'`
      const finished = yield* executor.resume(saga2!.id)
      assert.strictEqual(finished.state, "completed")
      assert.deepStrictEqual(yield* Ref.get(log), ["run:one", "run:two", "run:two"])
    })))

  it.effect("project.write goes through project commands and the outbox; compensation restores the previous state", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* setup
      const executor = yield* ExecutorAgent
      const commands = yield* ProjectCommands
      const sql = yield* SqlClient
      const projectId = "5a6a0000-0000-4000-8000-000000000001"
      const componentId = "5a6a0000-0000-4000-8000-0000000000c1"
      const owner = "5a6a0000-0000-4000-8000-0000000000aa"
      const project = { id: projectId, name: "Saga project", description: null, ownerId: owner, settings: {} }
      const component = { id: componentId, projectId, name: "Button", kind: "component", definition: { v: 1 }, properties: {} }
      yield* executor.run({ name: "seed", steps: [{ tool: "project.write", input: { _tag: "upsert", kind: "project", state: project } }] })
      const outcome = yield* executor.run({
        name: "rename-and-add",
        projectId,
        steps: [
          { tool: "project.write", input: { _tag: "upsert", kind: "project", state: { ...project, name: "Renamed" } } },
          { tool: "project.write", input: { _tag: "upsert", kind: "component", state: component } },
          { tool: "test.fail", input: { name: "boom" } }
        ]
      })
      assert.strictEqual(outcome.state, "compensated")
      const restored = Option.getOrThrow(yield* commands.get("project", projectId))
      assert.strictEqual((restored.state as { name: string }).name, "Saga project")
      const removed = Option.getOrThrow(yield* commands.get("component", componentId))
      assert.isTrue(removed.deleted)
      const updates = yield* sql<{ update_type: string }>`SELECT update_type FROM cogo.project_updates WHERE project_id = ${projectId} ORDER BY id`
      assert.deepStrictEqual(updates.map((u) => u.update_type), [
        "project.upserted", "project.upserted", "component.upserted", "component.deleted", "project.upserted"
      ])
      const publicRows = yield* sql`SELECT 1 FROM public.components WHERE id = ${componentId}`
      assert.strictEqual(publicRows.length, 0)
    })))

  it.effect("as a job: a compensated saga is a dead job with the failing step's error", () =>
    Effect.scoped(Effect.gen(function*() {
      yield* setup
      const queue = yield* JobQueue
      const { id } = yield* queue.submit({
        kind: JobKinds.saga,
        payload: { name: "job-saga", steps: [{ tool: "test.step", input: { name: "a" } }, { tool: "test.fail", input: { name: "b" } }] }
      })
      const job = yield* queue.awaitTerminal(id).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(job.state, "dead")
      assert.include(job.lastError?.message ?? "", "compensated: b failed")
      const sql = yield* SqlClient
      const [saga] = yield* sql<{ state: string; job_id: string }>`SELECT state, job_id FROM cogo.sagas WHERE idempotency_key = ${`job:${id}`}`
      assert.strictEqual(saga!.state, "compensated")
      assert.strictEqual(saga!.job_id, id)
    })))
})
