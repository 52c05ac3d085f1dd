// Limits on what one GraphQL operation may ask for: depth, aliases and an estimated cost
// (fields, multiplied by the page size of the connections and lists around them: every object
// list declares the most it returns, and test/unit/schema.test.ts holds that it does).
import {
  type ASTVisitor,
  type FieldNode,
  type FragmentDefinitionNode,
  getNamedType,
  getNullableType,
  GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  isObjectType,
  isInterfaceType,
  isListType,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
} from 'graphql';
import { DEFAULT_PAGE, MAX_PAGE } from './pagination';

export interface Limits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
}

interface Measure {
  depth: number;
  aliases: number;
  cost: number;
}

/** The page a connection field asks for; null for a literal no page can be (a negative one would lower the estimate). */
function pageOf(node: FieldNode, fallback = DEFAULT_PAGE, max = MAX_PAGE): number | null {
  const arg = node.arguments?.find((a) => a.name.value === 'first');
  if (!arg) return fallback;
  if (arg.value.kind === Kind.INT) {
    const n = Number(arg.value.value);
    return n < 0 ? null : Math.min(n, max);
  }
  return max; // a variable: assume the largest page it may ask for
}

/** The most items an object list field declares it returns (`@Extensions({ maxItems })`). */
export const maxItemsOf = (field: GraphQLField<unknown, unknown>): number | undefined => {
  const n = (field.extensions as { maxItems?: unknown } | undefined)?.maxItems;
  return typeof n === 'number' ? n : undefined;
};

/**
 * How many times a field's selection runs: a connection's page, or as many items as an object
 * list can hold (its `first`, or the bound it declares); one for anything else. Null: a page no
 * list can have.
 */
function multiplierOf(
  parent: GraphQLNamedType | undefined,
  field: GraphQLField<unknown, unknown> | undefined,
  node: FieldNode,
  child: GraphQLNamedType | undefined,
): number | null {
  if (!field || !child) return 1;
  if (child.name.endsWith('Connection')) return pageOf(node);
  if (parent?.name.endsWith('Connection')) return 1; // its edges: the connection's page already counted them
  if (!isListType(getNullableType(field.type)) || !(isObjectType(child) || isInterfaceType(child))) return 1;
  const max = maxItemsOf(field) ?? MAX_PAGE;
  const first = field.args.find((a) => a.name === 'first');
  return first
    ? pageOf(node, typeof first.defaultValue === 'number' ? first.defaultValue : Math.min(DEFAULT_PAGE, max), max)
    : max;
}

export function operationLimits(limits: Limits) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const d of context.getDocument().definitions)
      if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);

    const fieldOf = (type: GraphQLNamedType | undefined, name: string): GraphQLField<unknown, unknown> | undefined =>
      type && (isObjectType(type) || isInterfaceType(type)) ? type.getFields()[name] : undefined;

    const badPages: FieldNode[] = [];
    // A fragment measures the same wherever it is spread: measured once, so that fragments spreading
    // each other cost time linear in the document, not exponential in its nesting.
    const measured = new Map<string, Measure>();
    const visiting = new Set<string>();
    const measureFragment = (frag: FragmentDefinitionNode): Measure => {
      const name = frag.name.value;
      const known = measured.get(name);
      if (known) return known;
      if (visiting.has(name)) return { depth: 0, aliases: 0, cost: 0 }; // a cycle: NoFragmentCycles reports it
      visiting.add(name);
      const on = context.getSchema().getType(frag.typeCondition.name.value) ?? undefined;
      const m = measure(frag.selectionSet, on);
      visiting.delete(name);
      measured.set(name, m);
      return m;
    };

    const measure = (set: SelectionSetNode, type: GraphQLNamedType | undefined): Measure => {
      const m: Measure = { depth: 0, aliases: 0, cost: 0 };
      const add = (inner: Measure, depthOffset: number) => {
        m.depth = Math.max(m.depth, inner.depth + depthOffset);
        m.aliases += inner.aliases;
        m.cost += inner.cost;
      };
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          const field = fieldOf(type, sel.name.value);
          const childType = field ? getNamedType(field.type) : undefined;
          const inner = sel.selectionSet ? measure(sel.selectionSet, childType) : { depth: 0, aliases: 0, cost: 0 };
          let multiplier = multiplierOf(type, field, sel, childType);
          if (multiplier === null) {
            badPages.push(sel);
            multiplier = MAX_PAGE;
          }
          add(
            { depth: inner.depth, aliases: inner.aliases + (sel.alias ? 1 : 0), cost: 1 + inner.cost * multiplier },
            1,
          );
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          const on = sel.typeCondition ? context.getSchema().getType(sel.typeCondition.name.value) : type;
          add(measure(sel.selectionSet, on ?? undefined), 0);
        } else {
          const frag = fragments.get(sel.name.value);
          if (frag) add(measureFragment(frag), 0); // an unknown one: KnownFragmentNames reports it
        }
      }
      return m;
    };

    return {
      OperationDefinition(op) {
        const root =
          op.operation === 'query'
            ? context.getSchema().getQueryType()
            : op.operation === 'mutation'
              ? context.getSchema().getMutationType()
              : context.getSchema().getSubscriptionType();
        const m = measure(op.selectionSet, root ?? undefined);
        const report = (message: string) => context.reportError(new GraphQLError(message, { nodes: [op] }));
        for (const field of badPages.splice(0)) {
          context.reportError(
            new GraphQLError(`"first" on ${field.name.value} must be from 0 to ${MAX_PAGE}`, {
              nodes: [field],
              extensions: { argument: 'first' },
            }),
          );
        }
        if (m.depth > limits.maxDepth)
          report(`the operation is ${m.depth} levels deep; the limit is ${limits.maxDepth}`);
        if (m.aliases > limits.maxAliases)
          report(`the operation uses ${m.aliases} aliases; the limit is ${limits.maxAliases}`);
        if (m.cost > limits.maxCost)
          report(`the operation's estimated cost is ${m.cost}; the limit is ${limits.maxCost}`);
      },
    };
  };
}
