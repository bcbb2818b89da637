/**
 * Which write tools ask the user before they run. Read tools never ask. Write tools ask by default; a
 * project relaxes (or tightens) that in its settings, and the operator can pre-approve tools for every
 * project with `COGO_CHAT_AUTO_APPROVE` (comma-separated tool names, `*` for all):
 *
 *   projects.settings = { "chatTools": { "approval": "ask" | "auto", "tools": { "create_component": "auto" } } }
 *
 * Precedence: the project's per-tool entry, then the project's default, then the operator list, then "ask".
 */
import { Config, Context, Effect, Layer, Option, Schema } from "effect"
import { ProjectCommands } from "../cqrs/ProjectCommands.ts"

const Mode = Schema.Literals(["ask", "auto"])
export type ApprovalMode = typeof Mode.Type

const ProjectChatTools = Schema.Struct({
  chatTools: Schema.optionalKey(Schema.Struct({
    approval: Schema.optionalKey(Mode),
    tools: Schema.optionalKey(Schema.Record(Schema.String, Mode))
  }))
})
const decodeSettings = Schema.decodeUnknownOption(Schema.Struct({ settings: ProjectChatTools }))

export class ToolApproval extends Context.Service<ToolApproval, {
  /** For one project: whether a write tool must ask the user first. */
  readonly policyFor: (projectId: string) => Effect.Effect<(tool: string) => boolean>
}>()("cogo/ToolApproval") {
  static readonly layer = Layer.effect(
    ToolApproval,
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const operatorList = yield* Config.String("COGO_CHAT_AUTO_APPROVE").pipe(Config.withDefault(""))
      const preApproved = new Set(operatorList.split(",").map((name) => name.trim()).filter((name) => name !== ""))

      const policyFor = Effect.fn("ToolApproval.policyFor")(function*(projectId: string) {
        const project = yield* commands.get("project", projectId).pipe(Effect.orElseSucceed(() => Option.none()))
        const settings = Option.flatMap(project, (p) => decodeSettings(p.state)).pipe(
          Option.flatMap((s) => Option.fromNullishOr(s.settings.chatTools))
        )
        return (tool: string): boolean => {
          const own = Option.getOrUndefined(settings)
          const mode: ApprovalMode = own?.tools?.[tool] ?? own?.approval ?? (preApproved.has(tool) || preApproved.has("*") ? "auto" : "ask")
          return mode === "ask"
        }
      })
      return ToolApproval.of({ policyFor })
    })
  )
}
