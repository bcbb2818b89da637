import { createHash } from "node:crypto"
import type { ConversionWarning } from "../../../domain/figma/ConversionWarning.ts"
import type { CogoWidget } from "../../../domain/figma/CogoUi.ts"
import type { DesignToken, UuiComponent, UuiComponentSet, UuiDocument, UuiNode, UuiRoot } from "../../../domain/figma/Uui.ts"
import { compact } from "./compact.ts"
import type { Converted } from "./figmaToUui.ts"
import { uuiToCogo } from "./uuiToCogo.ts"

/*
 * What the figma-plugin import job writes through the project commands, computed purely from a converted
 * document. Ids are UUID v5 (SHA-1, RFC 9562) of (project, entity kind, Figma id) under a fixed namespace,
 * so importing the same file again yields the same ids and the commands update instead of duplicating.
 */

/** Namespace for cogo's Figma import ids (a random v4 UUID fixed forever: changing it re-keys every import). */
export const FIGMA_IMPORT_NAMESPACE = "6f1d8a52-3c4b-4e0a-9b7e-2d5c8f9a1e37"

export type ImportEntityKind = "component" | "symbol" | "page" | "theme" | "asset"

const uuidBytes = (uuid: string): Buffer => Buffer.from(uuid.replaceAll("-", ""), "hex")

/** RFC 9562 UUID version 5 of `name` in `namespace`. */
export const uuidV5 = (namespace: string, name: string): string => {
  const hash = createHash("sha1").update(uuidBytes(namespace)).update(name, "utf8").digest()
  const bytes = hash.subarray(0, 16)
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80
  const hex = bytes.toString("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

export const importEntityId = (projectId: string, kind: ImportEntityKind, figmaId: string): string =>
  uuidV5(FIGMA_IMPORT_NAMESPACE, `${projectId}\u0000${kind}\u0000${figmaId}`)

export interface PlannedComponent {
  readonly id: string
  readonly figmaNodeId: string
  readonly name: string
  readonly kind: "component" | "componentSet"
  readonly tree: CogoWidget
}
export interface PlannedSymbol {
  readonly id: string
  readonly figmaNodeId: string
  readonly name: string
  /** The component entry this symbol belongs to (its set, or itself when standalone). */
  readonly componentId: string
  readonly variant?: Readonly<Record<string, string>>
  readonly tree: CogoWidget
}
export interface PlannedPage {
  readonly id: string
  readonly figmaNodeId: string
  readonly name: string
  readonly tree: CogoWidget
}
export interface PlannedTheme {
  readonly id: string
  readonly name: string
  readonly tokens: ReadonlyArray<DesignToken>
}
export interface PlannedAsset {
  readonly id: string
  readonly imageRef: string
  readonly nodeIds: ReadonlyArray<string>
}
export interface ImportPlan {
  readonly projectId: string
  readonly components: ReadonlyArray<PlannedComponent>
  readonly symbols: ReadonlyArray<PlannedSymbol>
  readonly pages: ReadonlyArray<PlannedPage>
  readonly themes: ReadonlyArray<PlannedTheme>
  readonly assets: ReadonlyArray<PlannedAsset>
}

const pushTo = <K, V>(map: Map<K, Array<V>>, key: K, value: V): void => {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

const childrenOf = (node: UuiRoot): ReadonlyArray<UuiNode> =>
  node.kind === "page" || node.kind === "frame" || node.kind === "component" || node.kind === "componentSet" ||
    node.kind === "instance"
    ? node.children
    : []

/** Pages are the frames the plugin marked as screens; without any marks, the top-level frames. */
const screenFrames = (roots: ReadonlyArray<UuiRoot>, all: ReadonlyArray<UuiNode>): ReadonlyArray<UuiNode> => {
  const marked = all.filter((n) => n.kind === "frame" && n.screen === true)
  if (marked.length > 0) return marked
  return roots.flatMap((root) => (root.kind === "page" ? root.children : [root])).filter((n) => n.kind === "frame")
}

export const planImport = (projectId: string, document: UuiDocument): Converted<ImportPlan> => {
  const warnings: Array<ConversionWarning> = []
  const treeOf = (node: UuiNode): CogoWidget => {
    const converted = uuiToCogo({ schemaVersion: document.schemaVersion, roots: [node], tokens: [] })
    warnings.push(...converted.warnings)
    const [tree] = converted.value.roots
    return tree ?? { type: "Stack", children: [] }
  }

  // Iterative pre-order walk (document order): every node once, remembering the set containing a component.
  const all: Array<UuiNode> = []
  const setOf = new Map<string, UuiComponentSet>()
  const stack: Array<UuiRoot> = [...document.roots].reverse()
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (node.kind !== "page") all.push(node)
    const children = childrenOf(node)
    for (let i = children.length - 1; i >= 0; i--) {
      const child = children[i]
      if (child === undefined) continue
      if (node.kind === "componentSet" && child.kind === "component") setOf.set(child.id, node)
      stack.push(child)
    }
  }

  const components: Array<PlannedComponent> = []
  const symbols: Array<PlannedSymbol> = []
  const assetNodes = new Map<string, Array<string>>()
  for (const node of all) {
    if (node.kind === "componentSet" || (node.kind === "component" && !setOf.has(node.id))) {
      components.push({
        id: importEntityId(projectId, "component", node.id),
        figmaNodeId: node.id,
        name: node.name ?? node.id,
        kind: node.kind,
        tree: treeOf(node)
      })
    }
    if (node.kind === "component") symbols.push(plannedSymbol(projectId, node, setOf.get(node.id), treeOf(node)))
    if (node.kind !== "text") {
      for (const paint of node.fills ?? []) {
        if (paint.type === "image") pushTo(assetNodes, paint.imageRef, node.id)
      }
    }
  }

  const pages = screenFrames(document.roots, all).map((node) => ({
    id: importEntityId(projectId, "page", node.id),
    figmaNodeId: node.id,
    name: node.name ?? node.id,
    tree: treeOf(node)
  }))

  const collections = new Map<string, Array<DesignToken>>()
  for (const token of document.tokens) pushTo(collections, token.collection, token)
  const themes = [...collections].map(([name, tokens]) => ({ id: importEntityId(projectId, "theme", name), name, tokens }))

  const assets = [...assetNodes].map(([imageRef, nodeIds]) => ({
    id: importEntityId(projectId, "asset", imageRef),
    imageRef,
    nodeIds
  }))

  return { value: { projectId, components, symbols, pages, themes, assets }, warnings }
}

const plannedSymbol = (
  projectId: string, node: UuiComponent, set: UuiComponentSet | undefined, tree: CogoWidget
): PlannedSymbol =>
  compact({
    id: importEntityId(projectId, "symbol", node.id),
    figmaNodeId: node.id,
    name: node.name ?? node.id,
    componentId: importEntityId(projectId, "component", set?.id ?? node.id),
    variant: node.variant,
    tree
  })
