import ts from "typescript";
import type { Block, Item, MachineIR, Terminator } from "./ir.js";
import type { WorkflowManifest } from "./manifest.js";
import { bindingToAssignmentTarget, parametersToAssignmentTarget } from "./patterns.js";

const f = ts.factory;

/** The emitted machine's own variables, renamed if the body already uses those names. */
interface MachineNames {
  readonly ctx: string;
  readonly frame: string;
  readonly pc: string;
  readonly sent: string;
}

function machineNames(ir: MachineIR, bodyText: string): MachineNames {
  let suffix = "";
  for (
    let n = 2;
    bodyText.includes(`ratchet$pc${suffix}`) ||
    bodyText.includes(`ratchet$frame${suffix}`) ||
    bodyText.includes(`ratchet$sent${suffix}`) ||
    bodyText.includes(`ratchet$ctx${suffix}`);
    n++
  ) {
    suffix = String(n);
  }
  return {
    ctx: ir.ctxName ?? `ratchet$ctx${suffix}`,
    frame: `ratchet$frame${suffix}`,
    pc: `ratchet$pc${suffix}`,
    sent: `ratchet$sent${suffix}`,
  };
}

/** A JSON-shaped value as an expression literal. */
export function literal(value: unknown): ts.Expression {
  if (value === null) return f.createNull();
  if (Array.isArray(value)) return f.createArrayLiteralExpression(value.map(literal));
  switch (typeof value) {
    case "string":
      return f.createStringLiteral(value);
    case "number":
      return value < 0
        ? f.createPrefixUnaryExpression(ts.SyntaxKind.MinusToken, f.createNumericLiteral(-value))
        : f.createNumericLiteral(value);
    case "boolean":
      return value ? f.createTrue() : f.createFalse();
    case "object":
      return f.createObjectLiteralExpression(
        Object.entries(value as Record<string, unknown>).map(([k, v]) =>
          f.createPropertyAssignment(
            /^[A-Za-z_$][\w$]*$/.test(k) ? k : f.createStringLiteral(k),
            literal(v),
          ),
        ),
        true,
      );
    default:
      return f.createIdentifier("undefined");
  }
}

/** A function name for stack traces: the workflow's name where it is a valid identifier. */
function functionName(name: string): string {
  const clean = name.replace(/[^\w$]/g, "_");
  const scanner = ts.createScanner(
    ts.ScriptTarget.ESNext,
    true,
    ts.LanguageVariant.Standard,
    clean,
  );
  const reserved =
    scanner.scan() !== ts.SyntaxKind.Identifier || scanner.getTokenEnd() !== clean.length;
  return reserved || /^\d/.test(clean) ? `workflow_${clean}` : clean;
}

function mapped<T extends ts.Node>(node: T, original: ts.Node): T {
  return ts.setSourceMapRange(node, original);
}

function assign(target: ts.Expression, value: ts.Expression): ts.ExpressionStatement {
  return f.createExpressionStatement(f.createAssignment(target, value));
}

/**
 * Emit the state machine for one workflow: an async generator that restores the live
 * variables of the frame it is given, jumps to the frame's resume point, and yields at each
 * checkpoint `[checkpoint number, durable operation, live variables]` to the runtime,
 * which commits them and sends the operation's result back.
 */
export function emitMachine(
  ir: MachineIR,
  manifest: WorkflowManifest,
  body: ts.ArrowFunction | ts.FunctionExpression,
  sourceFile: ts.SourceFile,
): ts.Expression {
  const names = machineNames(ir, body.getText(sourceFile));
  const id = (name: string) => f.createIdentifier(name);
  const persisted = [...ir.slots.values()].filter((s) => s.kind !== "function").map((s) => s.name);

  const emitItem = (item: Item): ts.Statement[] => {
    switch (item.kind) {
      case "statement":
        return [item.node];
      case "declare":
        return [
          mapped(
            assign(bindingToAssignmentTarget(item.target), item.initializer ?? id("undefined")),
            item.node,
          ),
        ];
      case "receive":
        return item.target
          ? [mapped(assign(bindingToAssignmentTarget(item.target), id(names.sent)), item.node)]
          : [];
      case "returnReceived":
        return [mapped(f.createReturnStatement(id(names.sent)), item.node)];
    }
  };

  const jump = (target: number): ts.Statement[] => [
    assign(id(names.pc), f.createNumericLiteral(target)),
    f.createContinueStatement(),
  ];

  const emitTerminator = (t: Terminator): ts.Statement[] => {
    switch (t.kind) {
      case "goto":
        return jump(t.target);
      case "branch":
        return [
          mapped(
            f.createIfStatement(
              t.test,
              f.createBlock([assign(id(names.pc), f.createNumericLiteral(t.whenTrue))]),
              f.createBlock([assign(id(names.pc), f.createNumericLiteral(t.whenFalse))]),
            ),
            t.node,
          ),
          f.createContinueStatement(),
        ];
      case "durable": {
        const checkpoint = manifest.checkpoints[t.checkpoint - 1]!;
        const live = f.createObjectLiteralExpression(
          checkpoint.live.map((name) => f.createShorthandPropertyAssignment(name)),
        );
        const request = f.createArrayLiteralExpression([
          f.createNumericLiteral(t.checkpoint),
          t.call,
          live,
        ]);
        return [
          mapped(assign(id(names.sent), f.createYieldExpression(undefined, request)), t.node),
          ...jump(t.resume),
        ];
      }
      case "end":
        return [f.createReturnStatement()];
    }
  };

  const emitBlock = (block: Block): ts.CaseClause => {
    const statements: ts.Statement[] = [];
    if (block.id === 0 && ir.params.length > 0) {
      statements.push(
        assign(
          parametersToAssignmentTarget(ir.params),
          f.createPropertyAccessExpression(id(names.frame), "args"),
        ),
      );
    }
    for (const item of block.items) statements.push(...emitItem(item));
    const last = statements[statements.length - 1];
    // A block that already returned or threw needs no jump after it.
    if (!(last && (ts.isReturnStatement(last) || ts.isThrowStatement(last)))) {
      statements.push(...emitTerminator(block.terminator));
    }
    return f.createCaseClause(f.createNumericLiteral(block.id), statements);
  };

  const prologue: ts.Statement[] = [];
  if (persisted.length > 0) {
    prologue.push(
      f.createVariableStatement(
        undefined,
        f.createVariableDeclarationList(persisted.map((name) => f.createVariableDeclaration(name))),
      ),
    );
  }
  prologue.push(...ir.hoistedFunctions);
  prologue.push(
    f.createVariableStatement(
      undefined,
      f.createVariableDeclarationList([
        f.createVariableDeclaration(
          names.pc,
          undefined,
          undefined,
          f.createPropertyAccessExpression(id(names.frame), "pc"),
        ),
        f.createVariableDeclaration(
          names.sent,
          undefined,
          undefined,
          f.createPropertyAccessExpression(id(names.frame), "sent"),
        ),
      ]),
    ),
  );
  if (persisted.length > 0) {
    prologue.push(
      assign(
        f.createObjectLiteralExpression(
          persisted.map((name) => f.createShorthandPropertyAssignment(name)),
        ),
        f.createPropertyAccessExpression(id(names.frame), "vars"),
      ),
    );
  }
  const loop = f.createForStatement(
    undefined,
    undefined,
    undefined,
    f.createSwitchStatement(id(names.pc), f.createCaseBlock(ir.blocks.map(emitBlock))),
  );

  const machine = f.createFunctionExpression(
    [f.createModifier(ts.SyntaxKind.AsyncKeyword)],
    f.createToken(ts.SyntaxKind.AsteriskToken),
    f.createIdentifier(functionName(manifest.name)),
    undefined,
    [
      f.createParameterDeclaration(undefined, undefined, names.ctx),
      f.createParameterDeclaration(undefined, undefined, names.frame),
    ],
    undefined,
    mapped(f.createBlock([...prologue, loop], true), body),
  );

  return f.createObjectLiteralExpression(
    [
      f.createPropertyAssignment("$ratchet", f.createNumericLiteral(1)),
      f.createPropertyAssignment("manifest", literal(manifest)),
      f.createPropertyAssignment("machine", mapped(machine, body)),
    ],
    true,
  );
}
