/**
 * The executor agent: runs plans of typed tool calls as sagas. Every step that succeeded registers its
 * compensation; when a later step fails, the compensations run in reverse order.
 *
 * Durability: the saga and each step's state (pending → running → succeeded | failed → compensated) are
 * rows in `cogo.sagas` / `cogo.saga_steps`, written before and after each step. After a crash, `resume`
 * continues from the persisted state: succeeded steps are not repeated; a step left "running" is re-run when
 * that is safe (a transactional tool rolled back with the crash, or an idempotent tool), otherwise the saga
 * compensates what succeeded. Sagas run as "executor.saga" jobs: a crashed worker's job is rescued when its
 * lease expires and the next attempt resumes the same saga (its idempotency key is the job id).
 *
 * App data changes go through `ProjectCommands` (cogo state + outbox), never `public.*`: see the
 * "project.write" tool.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Effect, Exit, Layer, Option, Schedule, Schema, Scope } from "effect"
import { isSqlError, type SqlError } from "effect/sql/SqlError"
import {
  type AgentError,
  describeAgentError,
  InvalidToolInput,
  isRetryable,
  type StorageFailed,
  ToolFailed
} from "../../domain/agents/AgentError.ts"
import { JobKinds } from "../../domain/jobs/Job.ts"
import type { JobError } from "../../domain/jobs/Job.ts"
import { EntityKindSchema } from "../../domain/cqrs/ProjectUpdate.ts"
import { tool, type Tool } from "../../domain/agents/Tool.ts"
import { Database, DbRole } from "../platform/Database.ts"
import { storageFailed } from "./IndexingAgent.ts"
import { Orchestrator } from "../jobs/Orchestrator.ts"
import { EntityCommand, type ProjectCommandError, ProjectCommands } from "../cqrs/ProjectCommands.ts"

export const SagaStepPlan = Schema.Struct({ tool: Schema.String.check(Schema.isMinLength(1)), input: Schema.Unknown })
export type SagaStepPlan = typeof SagaStepPlan.Type

export const SagaPlan = Schema.Struct({
  name: Schema.String.check(Schema.isMinLength(1)),
  projectId: Schema.optional(Schema.NullOr(Schema.String.check(Schema.isUUID()))),
  steps: Schema.Array(SagaStepPlan).check(Schema.isMinLength(1))
})
export type SagaPlan = typeof SagaPlan.Type

export type SagaState = "running" | "compensating" | "completed" | "compensated" | "failed"
export type StepState = "pending" | "running" | "succeeded" | "failed" | "compensated" | "compensation_failed"

export interface SagaOutcome {
  readonly sagaId: string
  /** completed: every step succeeded; compensated: a step failed and every earlier step was undone;
   *  failed: a step failed and some compensation failed too (see the steps' errors). */
  readonly state: "completed" | "compensated" | "failed"
  readonly steps: ReadonlyArray<{ readonly tool: string; readonly state: StepState; readonly output: unknown; readonly error: JobError | null }>
}

/** A tool with its types erased to JSON in and out, and its services provided. */
interface RegisteredTool {
  readonly name: string
  readonly transactional: boolean
  readonly idempotent: boolean
  readonly hasCompensation: boolean
  readonly run: (input: unknown) => Effect.Effect<unknown, AgentError>
  readonly compensate: (input: unknown, output: unknown) => Effect.Effect<void, AgentError>
}

interface StepRow {
  readonly step_index: number
  readonly tool: string
  readonly input: unknown
  readonly output: unknown
  readonly state: StepState
  readonly error: JobError | null
}

export class ExecutorAgent extends Context.Service<ExecutorAgent, {
  /** Registers a tool for the lifetime of the current scope. */
  readonly registerTool: <I, O, R>(tool: Tool<I, O, R>) => Effect.Effect<void, never, R | Scope.Scope>
  /**
   * Runs a plan as a saga. With an idempotency key, running the same key again continues (or returns) the
   * saga already started under it instead of starting another.
   */
  readonly run: (plan: SagaPlan, options?: { readonly idempotencyKey?: string | undefined; readonly jobId?: string | undefined }) => Effect.Effect<SagaOutcome, AgentError>
  /** Continues a saga from its persisted state (after a crash): runs on, or compensates. */
  readonly resume: (sagaId: string) => Effect.Effect<SagaOutcome, AgentError>
  readonly tools: Effect.Effect<ReadonlyArray<string>>
}>()("cogo/ExecutorAgent") {
  static readonly layer = Layer.effect(ExecutorAgent, Effect.suspend(() => makeExecutorAgent))

  /** A layer that registers one tool: how other code adds tools. */
  static readonly tool = <I, O, R>(tool: Tool<I, O, R>): Layer.Layer<never, never, ExecutorAgent | Exclude<R, Scope.Scope>> =>
    Layer.effectDiscard(Effect.flatMap(Effect.service(ExecutorAgent), (executor) => executor.registerTool(tool))) as Layer.Layer<
      never,
      never,
      ExecutorAgent | Exclude<R, Scope.Scope>
    >

  /** The "executor.saga" job kind: a saga that fails after compensating is a dead job (retrying would redo it). */
  static readonly jobs = Layer.unwrap(Effect.gen(function*() {
    const executor = yield* ExecutorAgent
    return Orchestrator.handler({
      kind: JobKinds.saga,
      payload: SagaPlan,
      concurrency: 4,
      timeout: "10 minutes",
      run: (plan, job) =>
        executor.run(plan, { idempotencyKey: `job:${job.job.id}`, jobId: job.job.id }).pipe(
          Effect.flatMap((outcome) =>
            outcome.state === "completed"
              ? Effect.succeed(outcome)
              : Effect.fail(new ToolFailed({
                tool: plan.name,
                message: `saga ${outcome.sagaId} ${outcome.state}: ${outcome.steps.find((s) => s.state === "failed")?.error?.message ?? "a step failed"}`,
                retryable: false
              })))
        )
    })
  }))
}

const makeExecutorAgent = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const db = yield* Database
  const stepRetries = yield* Config.Int("SAGA_STEP_RETRIES").pipe(Config.withDefault(2))
  const tools = new Map<string, RegisteredTool>()
  const stepRetry = {
    schedule: Schedule.exponential("100 millis").pipe(Schedule.jittered),
    times: stepRetries,
    while: isRetryable
  }

  const registerTool = <I, O, R>(definition: Tool<I, O, R>) =>
    Effect.gen(function*() {
      const services = yield* Effect.context<R>()
      const decodeInput = Schema.decodeUnknownEffect(definition.input)
      const decodeOutput = Schema.decodeUnknownEffect(definition.output)
      const encodeOutput = Schema.encodeUnknownEffect(definition.output)
      const invalid = (what: string) => (error: Schema.SchemaError) =>
        new InvalidToolInput({ tool: definition.name, message: `${what}: ${error.message}` })
      const registered: RegisteredTool = {
        name: definition.name,
        transactional: definition.transactional === true,
        idempotent: definition.idempotent === true,
        hasCompensation: definition.compensate !== undefined,
        run: (input) =>
          decodeInput(input).pipe(
            Effect.mapError(invalid("invalid input")),
            Effect.flatMap(definition.run),
            Effect.flatMap((output) =>
              encodeOutput(output).pipe(Effect.mapError((error) => new ToolFailed({ tool: definition.name, message: `output does not encode: ${error.message}`, retryable: false })))
            ),
            Effect.provideContext(services)
          ),
        compensate: (input, output) => {
          const undo = definition.compensate
          if (undo === undefined) return Effect.void
          return Effect.all([decodeInput(input), decodeOutput(output)]).pipe(
            Effect.mapError(invalid("stored step does not decode")),
            Effect.flatMap(([i, o]) => undo(i, o)),
            Effect.provideContext(services)
          )
        }
      }
      tools.set(definition.name, registered)
      yield* Effect.addFinalizer(() => Effect.sync(() => tools.delete(definition.name)))
    })

  /** `effect` in its own agent transaction; storage errors become retryable `StorageFailed`. */
  const agent = <A, E, R>(operation: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError> | StorageFailed, R> =>
    db.withRole(DbRole.agent, effect).pipe(
      Effect.mapError((error) => isSqlError(error) ? storageFailed(operation)(error) : error as Exclude<E, SqlError>)
    )

  const loadSteps = (sagaId: string) =>
    sql<StepRow>`SELECT step_index, tool, input, output, state, error FROM cogo.saga_steps WHERE saga_id = ${sagaId} ORDER BY step_index`

  const setStep = (sagaId: string, index: number, state: StepState, fields: { readonly output?: unknown; readonly error?: JobError } = {}) =>
    sql`
      UPDATE cogo.saga_steps
      SET state = ${state},
          output = ${fields.output === undefined ? sql`output` : sql`${JSON.stringify(fields.output)}::jsonb`},
          error = ${fields.error === undefined ? sql`error` : sql`${JSON.stringify(fields.error)}::jsonb`},
          updated_at = now()
      WHERE saga_id = ${sagaId} AND step_index = ${index}`

  const setSaga = (sagaId: string, state: SagaState, error?: JobError) =>
    sql`UPDATE cogo.sagas SET state = ${state}, error = ${error === undefined ? sql`error` : sql`${JSON.stringify(error)}::jsonb`}, updated_at = now() WHERE id = ${sagaId}`

  const outcome = (sagaId: string) =>
    Effect.gen(function*() {
      const [saga] = yield* sql<{ readonly state: SagaState }>`SELECT state FROM cogo.sagas WHERE id = ${sagaId}`
      const steps = yield* loadSteps(sagaId)
      const state = saga?.state
      return {
        sagaId,
        state: state === "completed" || state === "compensated" ? state : "failed",
        steps: steps.map((s) => ({ tool: s.tool, state: s.state, output: s.output ?? null, error: s.error }))
      } satisfies SagaOutcome
    }).pipe(Effect.mapError(storageFailed("read saga")))

  const toolFor = (name: string) =>
    Option.match(Option.fromNullishOr(tools.get(name)), {
      onNone: () => Effect.fail(new ToolFailed({ tool: name, message: `no tool named ${name} is registered`, retryable: false })),
      onSome: Effect.succeed
    })

  /** Undoes the succeeded steps in reverse order; the saga ends compensated, or failed if an undo failed. */
  const compensate = Effect.fn("ExecutorAgent.compensate")(function*(sagaId: string) {
    yield* agent("saga compensating", setSaga(sagaId, "compensating"))
    const steps = yield* loadSteps(sagaId).pipe(Effect.mapError(storageFailed("read saga")))
    let allUndone = true
    for (const step of [...steps].reverse()) {
      if (step.state !== "succeeded") continue
      const undone = yield* Effect.exit(Effect.gen(function*() {
        const registered = yield* toolFor(step.tool)
        const undo = registered.compensate(step.input, step.output)
        const done = setStep(sagaId, step.step_index, "compensated")
        // Retries wrap the whole transaction (a failed statement aborts it), or only the undo when the
        // bookkeeping is separate (so a retry never undoes twice).
        yield* registered.transactional
          ? agent("step compensated", Effect.andThen(undo, done)).pipe(Effect.retry(stepRetry))
          : Effect.andThen(Effect.retry(undo, stepRetry), agent("step compensated", done))
      }).pipe(Effect.withSpan("saga.compensate", { attributes: { tool: step.tool, step: step.step_index } })))
      if (Exit.isFailure(undone)) {
        allUndone = false
        const error = Exit.findErrorOption(undone)
        yield* agent("step compensation failed", setStep(sagaId, step.step_index, "compensation_failed", {
          error: Option.isSome(error) ? describeAgentError(error.value) : { tag: "Defect", message: "compensation crashed", retryable: false }
        }))
      }
    }
    yield* agent("saga finished", setSaga(sagaId, allUndone ? "compensated" : "failed"))
  })

  const failStep = (sagaId: string, index: number, error: JobError) =>
    Effect.andThen(
      agent("step failed", Effect.andThen(setStep(sagaId, index, "failed", { error }), setSaga(sagaId, "compensating", error))),
      compensate(sagaId)
    )

  /** Runs the saga on from its persisted state. */
  const drive = Effect.fn("ExecutorAgent.drive")(function*(sagaId: string) {
    const [saga] = yield* sql<{ readonly state: SagaState }>`SELECT state FROM cogo.sagas WHERE id = ${sagaId}`.pipe(
      Effect.mapError(storageFailed("read saga"))
    )
    if (saga === undefined) return yield* new ToolFailed({ tool: "saga", message: `no saga ${sagaId}`, retryable: false })
    if (saga.state === "compensating") yield* compensate(sagaId)
    if (saga.state !== "running") return yield* outcome(sagaId)

    const steps = yield* loadSteps(sagaId).pipe(Effect.mapError(storageFailed("read saga")))
    for (const step of steps) {
      if (step.state === "succeeded") continue
      const found = yield* Effect.result(toolFor(step.tool))
      if (found._tag === "Failure") {
        yield* failStep(sagaId, step.step_index, describeAgentError(found.failure))
        return yield* outcome(sagaId)
      }
      const registered = found.success
      if (step.state === "running" && !registered.transactional && !registered.idempotent) {
        // The process stopped while this step ran and its effect is unknown: undo what is known to be done.
        yield* failStep(sagaId, step.step_index, {
          tag: "InDoubt",
          message: `the worker stopped while ${step.tool} ran; it is neither transactional nor idempotent, so the saga compensates`,
          retryable: false
        })
        return yield* outcome(sagaId)
      }
      if (step.state !== "pending" && step.state !== "running") {
        yield* compensate(sagaId)
        return yield* outcome(sagaId)
      }
      yield* agent("step running", setStep(sagaId, step.step_index, "running"))
      const run = registered.run(step.input)
      const succeeded = (output: unknown) => setStep(sagaId, step.step_index, "succeeded", { output })
      const exit = yield* Effect.exit(
        (registered.transactional
          ? agent("step succeeded", Effect.tap(run, succeeded)).pipe(Effect.retry(stepRetry))
          : Effect.tap(Effect.retry(run, stepRetry), (output) => agent("step succeeded", succeeded(output)))
        ).pipe(Effect.withSpan("saga.step", { attributes: { tool: step.tool, step: step.step_index } }))
      )
      if (Exit.isFailure(exit)) {
        const error = Exit.findErrorOption(exit)
        if (Option.isNone(error) && Exit.hasInterrupts(exit)) return yield* Effect.interrupt
        yield* failStep(sagaId, step.step_index, Option.isSome(error)
          ? describeAgentError(error.value)
          : { tag: "Defect", message: `${step.tool} crashed`, retryable: false })
        return yield* outcome(sagaId)
      }
    }
    yield* agent("saga completed", setSaga(sagaId, "completed"))
    return yield* outcome(sagaId)
  })

  const run = Effect.fn("ExecutorAgent.run")(function*(
    plan: SagaPlan,
    options?: { readonly idempotencyKey?: string | undefined; readonly jobId?: string | undefined }
  ) {
    const steps = plan.steps.map((step, index) => ({ step_index: index, tool: step.tool, input: step.input ?? null }))
    const sagaId = yield* agent("start saga", Effect.gen(function*() {
      const created = yield* sql<{ readonly id: string }>`
        INSERT INTO cogo.sagas (name, project_id, job_id, idempotency_key)
        VALUES (${plan.name}, ${plan.projectId ?? null}, ${options?.jobId ?? null}, ${options?.idempotencyKey ?? null})
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id`
      if (created[0] !== undefined) {
        yield* sql`
          INSERT INTO cogo.saga_steps (saga_id, step_index, tool, input)
          SELECT ${created[0].id}, step_index, tool, input
          FROM jsonb_to_recordset(${JSON.stringify(steps)}::jsonb) AS x(step_index int, tool text, input jsonb)`
        return created[0].id
      }
      const existing = yield* sql<{ readonly id: string }>`SELECT id FROM cogo.sagas WHERE idempotency_key = ${options?.idempotencyKey ?? null}`
      return existing[0]!.id
    }))
    return yield* drive(sagaId)
  })

  return ExecutorAgent.of({
    registerTool,
    run,
    resume: drive,
    tools: Effect.sync(() => Array.from(tools.keys()))
  })
})

const CommandResultSchema = Schema.Struct({
  kind: EntityKindSchema,
  id: Schema.String,
  projectId: Schema.String,
  version: Schema.Number,
  updateId: Schema.Number
})

export const ProjectWriteOutput = Schema.Struct({
  result: CommandResultSchema,
  /** The entity's canonical state before the write (null: it did not exist), for the compensation. */
  previous: Schema.NullOr(Schema.Struct({ deleted: Schema.Boolean, state: Schema.Unknown }))
})

export const commandError = (tool: string) => (error: ProjectCommandError): AgentError => {
  switch (error._tag) {
    case "ProjectCommandRejected":
      return new InvalidToolInput({ tool, message: `${error.reason}: ${error.message}` })
    case "NotInTransaction":
      return new ToolFailed({ tool, message: `${error.operation} needs a transaction`, retryable: false })
    default:
      return storageFailed(tool)(error)
  }
}

/**
 * "project.write": one entity command (upsert or delete) through `ProjectCommands`, so app data changes go
 * to cogo state + the outbox and reach `public.*` only through the projection. Transactional: the write and
 * the saga step's bookkeeping commit together. Its compensation restores the entity's previous canonical
 * state (or deletes an entity the step created). Dependents removed by a cascading delete are not restored.
 */
export const projectWriteTool = Effect.map(Effect.service(ProjectCommands), (commands) => {
  const name = "project.write"
  const fail = commandError(name)
  const decodeCommand = Schema.decodeUnknownEffect(EntityCommand)
  return tool({
    name,
    description: "Upsert or delete one project entity (project, page, component, ...) through the project commands",
    input: EntityCommand,
    output: ProjectWriteOutput,
    transactional: true,
    run: (command) =>
      Effect.gen(function*() {
        const id = command._tag === "delete" ? command.id : command.state.id
        const previous = id === undefined ? Option.none() : yield* commands.get(command.kind, id)
        const [result] = yield* commands.write([command])
        return {
          result: result!,
          previous: Option.match(previous, { onNone: () => null, onSome: (p) => ({ deleted: p.deleted, state: p.state }) })
        }
      }).pipe(Effect.mapError(fail)),
    compensate: (command, output): Effect.Effect<void, AgentError> =>
      output.previous === null || output.previous.deleted
        ? commands.remove(command.kind, output.result.id, { origin: "saga-compensation" }).pipe(Effect.mapError(fail), Effect.asVoid)
        : decodeCommand({ _tag: "upsert", kind: command.kind, state: output.previous.state, origin: "saga-compensation" }).pipe(
          Effect.mapError((error) => new ToolFailed({ tool: name, message: `previous state does not decode: ${error.message}`, retryable: false })),
          Effect.flatMap((restore) => Effect.mapError(commands.write([restore]), fail)),
          Effect.asVoid
        )
  })
})

/** Registers the "project.write" tool. */
export const ProjectToolsLive = Layer.unwrap(Effect.map(projectWriteTool, ExecutorAgent.tool))
