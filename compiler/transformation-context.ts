import ts from "typescript";

/**
 * Run `work` with a transformation context, the one `ts.visitEachChild` wants for building
 * nodes: `ts.transform` lends one without printing anything.
 *
 * It is lent for a placeholder node, and the transformer is made here and reads `work` from a
 * variable cleared afterwards, so nothing `ts.transform` keeps refers to the module. V8 keeps
 * what `ts.transform` allocates alive past young-generation collections until a full one; given
 * the module's source file (or a transformer holding any of its nodes, which lead to it by their
 * parents), every module's whole syntax tree and everything the passes made stayed alive and was
 * copied into the old generation: 4–8 MB per young collection and about a quarter of
 * `transform()`'s time in the garbage collector.
 */
export function withTransformationContext(work: (context: ts.TransformationContext) => void): void {
  const outer = pending;
  pending = work;
  try {
    ts.transform(placeholder, [lendContext]).dispose();
  } finally {
    pending = outer;
  }
}

let pending: ((context: ts.TransformationContext) => void) | undefined;

const lendContext: ts.TransformerFactory<ts.Node> = (context) => (node) => {
  pending?.(context);
  return node;
};

const placeholder = ts.factory.createEmptyStatement();
