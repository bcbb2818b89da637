/**
 * The tracer every span of the process goes through, wrapped around the exporting tracer (effect's OTLP
 * tracer, the OpenTelemetry SDK's, or the native one). Each span
 * - has its attributes and events redacted before the exporting span sees them (`Redaction.ts`);
 * - is renamed by the semantic conventions when it ends (`SpanNames.ts`): an HTTP server span once the router
 *   set `http.route`, a database span from its `db.query.text` (plus `db.operation.name`/`db.collection.name`);
 * - in a trace of a background loop (a local root that is neither a server nor a consumer span) is held
 *   until its root ends. A root that succeeds with an empty result (`[]`, `0`, or a record whose numbers are
 *   all 0, like a projection batch that claimed nothing) was an idle poll: its whole trace is dropped and never
 *   exported nor stored. Otherwise the held spans end (and export) then. At most `maxHeldSpans` are held per
 *   trace; past that the trace is released as it goes.
 * `onEnd` sees every span that ended for real (after the exporting span ended).
 */
import { Exit, Option, Tracer } from "effect"
import { redactAttribute, redactAttributes, redactText } from "./Redaction.ts"
import { dbOperation, dbSpanName, httpServerSpanName } from "./SpanNames.ts"

const maxHeldSpans = 256

/** Whether a poll found nothing to do, judged by what its root effect returned. */
export const isIdleResult = (exit: Exit.Exit<unknown, unknown>): boolean => {
  if (!Exit.isSuccess(exit)) return false
  const value: unknown = exit.value
  if (Array.isArray(value)) return value.length === 0
  if (typeof value === "number") return value === 0
  if (typeof value !== "object" || value === null) return false
  const numbers = Object.values(value).filter((v): v is number => typeof v === "number")
  return numbers.length > 0 && numbers.every((n) => n === 0)
}

/** The spans of one background trace, held until its root decides. */
interface HeldTrace {
  state: "holding" | "dropped" | "released"
  readonly ends: Array<() => void>
}

/** Renames the exporting span (effect spans keep the name in a field; OTel SDK spans also need `updateName`). */
const rename = (span: Tracer.Span, name: string) => {
  if ("span" in span && typeof span.span === "object" && span.span !== null && "updateName" in span.span && typeof span.span.updateName === "function") {
    span.span.updateName(name)
  }
  Object.assign(span, { name })
}

export class TelemetrySpan implements Tracer.Span {
  readonly _tag = "Span"
  private route: string | undefined
  private dbName: string | undefined
  private deferredStatus: Tracer.SpanStatus | undefined
  constructor(
    readonly inner: Tracer.Span,
    /** Part of a background loop's trace rather than a request's or a job's. */
    readonly background: boolean,
    /** Set for spans of a background trace that is still deciding. */
    readonly held: HeldTrace | undefined,
    private readonly isHeldRoot: boolean,
    private readonly onEnd: (span: Tracer.Span, background: boolean) => void
  ) {}
  get name() { return this.inner.name }
  get spanId() { return this.inner.spanId }
  get traceId() { return this.inner.traceId }
  get parent() { return this.inner.parent }
  get annotations() { return this.inner.annotations }
  get status() { return this.deferredStatus ?? this.inner.status }
  get attributes() { return this.inner.attributes }
  get links() { return this.inner.links }
  get sampled() { return this.inner.sampled }
  get kind() { return this.inner.kind }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    if (this.status._tag === "Ended") return
    const finish = () => {
      const name = this.finalName()
      if (name !== undefined && name !== this.inner.name) rename(this.inner, name)
      this.inner.end(endTime, exit)
      this.onEnd(this.inner, this.background)
    }
    const held = this.held
    if (held === undefined || held.state === "released") return finish()
    this.deferredStatus = { _tag: "Ended", startTime: this.inner.status.startTime, endTime, exit }
    if (held.state === "dropped") return
    if (this.isHeldRoot) {
      const ends = held.ends.splice(0)
      if (isIdleResult(exit)) {
        held.state = "dropped"
        return
      }
      held.state = "released"
      for (const end of ends) end()
      return finish()
    }
    held.ends.push(finish)
    if (held.ends.length >= maxHeldSpans) {
      held.state = "released"
      for (const end of held.ends.splice(0)) end()
    }
  }

  private finalName(): string | undefined {
    // The catch-all route (unknown paths) names nothing: such spans keep the bare method.
    if (this.route !== undefined && this.route !== "/*" && this.route !== "*") {
      const method = this.inner.attributes.get("http.request.method")
      return httpServerSpanName(typeof method === "string" ? method : this.inner.name, this.route)
    }
    return this.dbName
  }

  attribute(key: string, value: unknown): void {
    if (key === "http.route" && this.kind === "server" && typeof value === "string") this.route = value
    if (key === "db.query.text" && this.kind === "client" && typeof value === "string") {
      const db = dbOperation(value)
      if (db !== undefined) {
        this.dbName = dbSpanName(db)
        this.inner.attribute("db.operation.name", db.operation)
        if (db.collection !== undefined) this.inner.attribute("db.collection.name", db.collection)
      }
    }
    this.inner.attribute(key, redactAttribute(key, value))
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    this.inner.event(redactText(name), startTime, redactAttributes(attributes))
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void { this.inner.addLinks(links) }
}

/** Wraps `inner`; `onEnd` is called with each exporting span once it really ended. */
export const makeTelemetryTracer = (inner: Tracer.Tracer, onEnd: (span: Tracer.Span, background: boolean) => void): Tracer.Tracer =>
  Tracer.make({
    span(options) {
      const span = inner.span(options)
      const parent = Option.getOrUndefined(options.parent)
      if (parent instanceof TelemetrySpan) {
        return new TelemetrySpan(span, parent.background, parent.held?.state === "released" ? undefined : parent.held, false, onEnd)
      }
      if (parent !== undefined) return new TelemetrySpan(span, false, undefined, false, onEnd)
      const background = !(options.kind === "server" || options.kind === "consumer")
      const held: HeldTrace | undefined = background && options.sampled ? { state: "holding", ends: [] } : undefined
      return new TelemetrySpan(span, background, held, true, onEnd)
    },
    ...(inner.context === undefined ? {} : { context: inner.context })
  })
