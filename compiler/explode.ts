import ts from "typescript";
import { DiagnosticCodes, type DiagnosticSink } from "./diagnostics.js";
import type { Block, CheckpointSite, Item, MachineIR, Slot } from "./ir.js";
import { boundNames, isFunctionBoundary, isFunctionValue, skipOuterExpressions } from "./syntax.js";
import type { Validation } from "./validate.js";

const STATEMENT_NAMES: Partial<Record<ts.SyntaxKind, string>> = {
  [ts.SyntaxKind.ForStatement]: "a `for` loop",
  [ts.SyntaxKind.ForOfStatement]: "a `for…of` loop",
  [ts.SyntaxKind.ForInStatement]: "a `for…in` loop",
  [ts.SyntaxKind.WhileStatement]: "a `while` loop",
  [ts.SyntaxKind.DoStatement]: "a `do…while` loop",
  [ts.SyntaxKind.SwitchStatement]: "a `switch`",
  [ts.SyntaxKind.TryStatement]: "a `try` statement",
  [ts.SyntaxKind.LabeledStatement]: "a labelled statement",
  [ts.SyntaxKind.ThrowStatement]: "a `throw` expression",
};

/**
 * Cut a validated workflow body into basic blocks at its durable awaits (regenerator's
 * `explode`, for the constructs this compiler supports so far). Statements that contain no
 * checkpoint are kept whole; block-level declarations around checkpoints become frame
 * slots. Anything it cannot cut is reported, never compiled wrongly.
 */
export function explodeBody(
  body: ts.ArrowFunction | ts.FunctionExpression,
  validation: Validation,
  sink: DiagnosticSink,
): MachineIR {
  const durableByAwait = new Map(validation.durable.map((d) => [d.await, d]));
  const durableStarts = validation.durable.map((d) => d.await.getStart());
  const blocks: Block[] = [];
  const checkpoints: CheckpointSite[] = [];
  const slots = new Map<string, Slot>();
  const hoistedFunctions: ts.FunctionDeclaration[] = [];

  const newBlock = (): Block => {
    const block: Block = { id: blocks.length, items: [], terminator: { kind: "end" } };
    blocks.push(block);
    return block;
  };

  const containsDurable = (node: ts.Node): boolean => {
    const start = node.getStart();
    const end = node.getEnd();
    return durableStarts.some((p) => p >= start && p < end);
  };

  const addSlot = (
    name: string,
    declaration: ts.Node,
    kind: Slot["kind"],
    holdsFunction: boolean,
  ) => {
    const existing = slots.get(name);
    if (existing) {
      if (existing.declaration === declaration || (existing.kind === "var" && kind === "var")) {
        return;
      }
      sink.report(
        declaration,
        DiagnosticCodes.shadowedAcrossCheckpoints,
        `\`${name}\` is declared twice in this workflow body; redeclaring a name in a block that a checkpoint splits is not supported yet.`,
        `Rename one of the two \`${name}\` variables.`,
      );
      return;
    }
    slots.set(name, { name, declaration, kind, holdsFunction });
  };

  const addBindingSlots = (name: ts.BindingName, declaration: ts.Node, isVar: boolean) => {
    const holdsFunction =
      ts.isVariableDeclaration(declaration) && isFunctionValue(declaration.initializer);
    for (const n of boundNames(name))
      addSlot(n, declaration, isVar ? "var" : "lexical", holdsFunction);
  };

  // `var` declarations anywhere outside nested functions belong to the body's scope.
  const collectVars = (node: ts.Node): void => {
    if (isFunctionBoundary(node)) return;
    if (ts.isVariableDeclarationList(node) && !(node.flags & ts.NodeFlags.BlockScoped)) {
      for (const declaration of node.declarations)
        addBindingSlots(declaration.name, declaration, true);
    }
    ts.forEachChild(node, collectVars);
  };

  const durableAt = (expression: ts.Expression | undefined) => {
    if (!expression) return undefined;
    const inner = skipOuterExpressions(expression);
    return ts.isAwaitExpression(inner) ? durableByAwait.get(inner) : undefined;
  };

  const unsupportedPosition = (node: ts.Node) => {
    sink.report(
      node,
      DiagnosticCodes.unsupportedAwaitPosition,
      "A durable await inside this expression is not supported yet; it must be a whole statement, a variable's initializer, the right side of an assignment, or returned.",
      "Move it into its own statement: const result = await ctx.step(…); then use result.",
    );
  };

  /** End `current` at a checkpoint; returns the resume block, whose first item receives the result. */
  const checkpoint = (current: Block, node: ts.Node, expression: ts.Expression): Block => {
    const site = durableAt(expression)!;
    const resume = newBlock();
    const index = checkpoints.length + 1;
    checkpoints.push({
      index,
      await: site.await,
      call: site.call,
      method: site.method,
      resume: resume.id,
    });
    current.terminator = {
      kind: "durable",
      node,
      checkpoint: index,
      call: site.call,
      resume: resume.id,
    };
    return resume;
  };

  const receive = (block: Block, node: ts.Node, target: ts.BindingName | undefined): void => {
    block.items.push({ kind: "receive", node, target });
  };

  const explodeDeclarations = (current: Block, statement: ts.VariableStatement): Block => {
    const list = statement.declarationList;
    const isVar = !(list.flags & ts.NodeFlags.BlockScoped);
    const isLet = (list.flags & ts.NodeFlags.Let) !== 0;
    let block = current;
    for (const declaration of list.declarations) {
      addBindingSlots(declaration.name, declaration, isVar);
      if (durableAt(declaration.initializer)) {
        block = checkpoint(block, declaration, declaration.initializer!);
        receive(block, declaration, declaration.name);
      } else if (declaration.initializer && containsDurable(declaration.initializer)) {
        unsupportedPosition(declaration.initializer);
      } else if (declaration.initializer || isLet) {
        // `let x;` resets x to undefined each time its block is entered.
        const item: Item = {
          kind: "declare",
          node: declaration,
          target: declaration.name,
          initializer: declaration.initializer,
        };
        block.items.push(item);
      }
    }
    return block;
  };

  const explodeStatement = (current: Block, statement: ts.Statement): Block => {
    if (ts.isFunctionDeclaration(statement)) {
      if (statement.name) addSlot(statement.name.text, statement, "function", true);
      hoistedFunctions.push(statement);
      return current;
    }
    if (ts.isVariableStatement(statement)) return explodeDeclarations(current, statement);
    if (ts.isClassDeclaration(statement) && statement.name) {
      addSlot(statement.name.text, statement, "lexical", true);
      if (containsDurable(statement)) unsupportedPosition(statement);
      // Emitted as `Name = class Name {…}` so the class lands in its slot.
      const expression = ts.setTextRange(
        ts.factory.createClassExpression(
          statement.modifiers?.filter(ts.isDecorator),
          statement.name,
          statement.typeParameters,
          statement.heritageClauses,
          statement.members,
        ),
        statement,
      );
      current.items.push({
        kind: "declare",
        node: statement,
        target: statement.name,
        initializer: expression,
      });
      return current;
    }
    if (!containsDurable(statement)) {
      collectVars(statement);
      current.items.push({ kind: "statement", node: statement });
      return current;
    }
    if (ts.isBlock(statement)) return explodeStatements(current, statement.statements);
    if (ts.isExpressionStatement(statement)) {
      const expression = skipOuterExpressions(statement.expression);
      if (durableAt(expression)) {
        const resume = checkpoint(current, statement, expression);
        receive(resume, statement, undefined);
        return resume;
      }
      if (
        ts.isBinaryExpression(expression) &&
        expression.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
        ts.isIdentifier(expression.left) &&
        durableAt(expression.right) &&
        !containsDurable(expression.left)
      ) {
        const resume = checkpoint(current, statement, expression.right);
        receive(resume, statement, expression.left);
        return resume;
      }
      unsupportedPosition(statement);
      return current;
    }
    if (ts.isReturnStatement(statement)) {
      if (durableAt(statement.expression)) {
        const resume = checkpoint(current, statement, statement.expression!);
        resume.items.push({ kind: "returnReceived", node: statement });
        return resume;
      }
      unsupportedPosition(statement);
      return current;
    }
    if (ts.isIfStatement(statement)) {
      if (containsDurable(statement.expression)) {
        unsupportedPosition(statement.expression);
        return current;
      }
      const whenTrue = newBlock();
      const whenFalse = statement.elseStatement ? newBlock() : undefined;
      const join = newBlock();
      current.terminator = {
        kind: "branch",
        node: statement,
        test: statement.expression,
        whenTrue: whenTrue.id,
        whenFalse: (whenFalse ?? join).id,
      };
      explodeStatement(whenTrue, statement.thenStatement).terminator = {
        kind: "goto",
        target: join.id,
      };
      if (whenFalse && statement.elseStatement) {
        explodeStatement(whenFalse, statement.elseStatement).terminator = {
          kind: "goto",
          target: join.id,
        };
      }
      return join;
    }
    const what = STATEMENT_NAMES[statement.kind] ?? "this kind of statement";
    sink.report(
      statement,
      DiagnosticCodes.unsupported,
      `A durable await inside ${what} is not supported yet by this version of the Ratchet compiler.`,
      "Supported around checkpoints so far: const/let, expressions, if/else, blocks and return. See docs/compiler.md.",
    );
    return current;
  };

  const explodeStatements = (current: Block, statements: readonly ts.Statement[]): Block => {
    let block = current;
    for (const statement of statements) {
      // A block that already ended (return after a checkpoint) takes nothing more.
      block = explodeStatement(block, statement);
    }
    return block;
  };

  const params = body.parameters.slice(1);
  for (const parameter of params) addBindingSlots(parameter.name, parameter, true);

  const entry = newBlock();
  if (ts.isBlock(body.body)) {
    explodeStatements(entry, body.body.statements);
  } else if (durableAt(body.body)) {
    const resume = checkpoint(entry, body.body, body.body);
    resume.items.push({ kind: "returnReceived", node: body.body });
  } else {
    if (containsDurable(body.body)) unsupportedPosition(body.body);
    entry.items.push({
      kind: "statement",
      node: ts.setTextRange(ts.factory.createReturnStatement(body.body), body.body),
    });
  }

  return {
    blocks,
    checkpoints,
    params,
    ctxName: validation.ctxName,
    slots,
    hoistedFunctions,
  };
}
