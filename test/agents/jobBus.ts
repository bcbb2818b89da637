/** A job's realtime stream as a subscriber replaying it from the start reads it (bus events of topic `job`). */
import { Effect } from "effect"
import type { JobId } from "../../src/domain/jobs/Job.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"

export const jobBusEvents = (id: JobId) =>
  Effect.flatMap(Effect.service(EventBus), (bus) => bus.since({ afterId: 0, jobId: id })).pipe(
    Effect.map((events) => events.filter((e) => e.topic === "job"))
  )

/** The kinds of `jobBusEvents`, in order. */
export const jobBusKinds = (id: JobId) => Effect.map(jobBusEvents(id), (events) => events.map((e) => e.kind))
