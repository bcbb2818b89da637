import type { ConversionWarning } from "../../../../domain/figma/ConversionWarning.ts"
import type {
  FigmaComponentMeta, FigmaLocalVariables, FigmaNode, FigmaStyleMeta
} from "../../../../domain/figma/FigmaInput.ts"
import type { DesignToken, TokenRefs } from "../../../../domain/figma/Uui.ts"

/*
 * What the parts of the Figma -> UUI conversion share: the input, the per-conversion state (warnings and the
 * style values seen so far) and the parent facts a child needs. Also the two tiny helpers every part uses.
 */

/** Every input shape, reduced to the node trees plus the file-level tables they reference. */
export interface FigmaSource {
  readonly name?: string
  readonly documents: ReadonlyArray<FigmaNode>
  readonly components: Readonly<Record<string, typeof FigmaComponentMeta.Type>>
  readonly componentSets: Readonly<Record<string, typeof FigmaComponentMeta.Type>>
  readonly styles: Readonly<Record<string, FigmaStyleMeta>>
  readonly variables?: FigmaLocalVariables
}

export interface Converted<A> {
  readonly value: A
  readonly warnings: ReadonlyArray<ConversionWarning>
}

export type Warn = (nodeId: string, feature: string, action: string) => void

export type StyleSlot = "fill" | "stroke" | "text" | "effect"
export type StyleValue = DesignToken["values"][string]

/** Records the converted value of the style a node uses in `slot` (the first node seen wins). */
export type RecordStyle = (node: FigmaNode, slot: StyleSlot, type: DesignToken["type"], value: StyleValue) => void

/** The state of one conversion, handed to every part. */
export interface ConversionContext {
  readonly source: FigmaSource
  readonly warn: Warn
  readonly recordStyle: RecordStyle
  /** The node's token references (style ids, bound variables), counted as uses. */
  readonly tokenRefs: (node: FigmaNode) => TokenRefs | undefined
}

export interface FigmaBox { readonly x: number; readonly y: number; readonly width: number; readonly height: number }

/** What a child needs to know about its parent to decide positioning and sizing. */
export interface ParentContext {
  readonly layout: "root" | "page" | "none" | "horizontal" | "vertical" | "wrap"
  readonly box: FigmaBox | undefined
  readonly isComponentSet: boolean
  /** A group: its children's relativeTransform is relative to the group's container, not to the group. */
  readonly group?: true
}

export const ROOT: ParentContext = { layout: "root", box: undefined, isComponentSet: false }
export const EPSILON = 1e-6

export const lookup = <V>(table: Readonly<Record<string, V>>, key: string | undefined): V | undefined =>
  key !== undefined && Object.hasOwn(table, key) ? table[key] : undefined

/** Arithmetic on finite inputs can still overflow (1e308 * 2): clamp so outputs stay valid JSON numbers. */
export const finite = (n: number): number => (Number.isFinite(n) ? n : Number.isNaN(n) ? 0 : Math.sign(n) * Number.MAX_VALUE)
