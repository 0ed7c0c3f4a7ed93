import * as path from 'node:path';
import { SingleBar } from 'cli-progress';
import { parse } from '../language/parse';
import type { ClozeDocument } from '../language/ast';
import { positionAt } from '../language/positions';
import { engineReport, type ModelInfo } from '../model/engine';
import { evaluate, evaluationRows, type Calibration, type Evaluation, type FigureSet } from '../service/evaluate';
import { evaluationText, fixed, percent } from '../service/evaluationReport';
import type { ExcludedPattern } from '../service/preview';
import { createService, dataLimits } from './check';
import { previewColumns, type ModelColumn } from './compare';
import { junitReport, junitXml, type JUnitCase, type JUnitSuite } from './junit';
import { openScoringSession, scoringBlockers, type ScoringOptions, type ScoringSession } from './session';
import { readSourceText, uniquePaths } from './sourceFile';

/**
 * `cloze eval <file>`: accuracy of each pattern, and of their ensemble, on
 * the labelled rows of the file's `data:` files (or `--data` files). A
 * progress bar (cli-progress) goes to stderr when it is a terminal.
 *
 * As a CI gate: `--min-accuracy X` checks the accuracy of the `--gate`
 * targets (the ensemble by default; pattern names, `wmean`, `all`) as the run
 * predicts (calibrated with `--calibrate`); `--format junit` writes one test
 * case per pattern and ensemble, failed when gated and below.
 *
 * Several models (`--model a --model b`, or the file's `models:` line) are
 * evaluated in turn on the same rows, each through evaluateSession (the one
 * path a single model takes); the gate applies to each, the output holds each
 * model's figures (a table each and a side-by-side summary; JSON `evaluations`;
 * a JUnit suite each). One model keeps the output it always had.
 *
 * Exit codes: 0 evaluated (and the gate passed), 1 the gate failed (for
 * any model), the file has errors (what could be evaluated is still
 * reported), a model could not be loaded or nothing could be evaluated
 * (no labelled rows), 2 bad usage.
 */

export interface EvalCommandOptions extends Omit<ScoringOptions, 'model'> {
  /** `--model`, repeatable: several evaluate each model on the same rows (default: the file's `models:` line, if any). */
  readonly model?: string | readonly string[];
  readonly data?: string[];
  readonly limit?: number;
  readonly calibrate?: boolean;
  readonly calibration?: Calibration;
  readonly errors?: number;
  readonly minAccuracy?: number;
  readonly gate?: string[];
  readonly format: 'text' | 'json' | 'junit';
}

/** One accuracy the gate checked. */
export interface GateCheck {
  readonly target: string;
  /** `pattern`, `ensemble` or `weighted-ensemble`: with the name, what the check is of (a pattern's name is its own). */
  readonly kind: FigureSet['kind'];
  readonly accuracy: number | null;
  readonly passed: boolean;
  /**
   * Rows under the target the model gave NaN or infinite logits for: the accuracy leaves them out,
   * so a gate with any fails (a broken model must not pass on the rows it could score).
   */
  readonly nonFinite: number;
  /** Why the target was not evaluated: a pattern of the file with errors (no `[MASK]` or several). */
  readonly notEvaluated?: string;
}

export interface GateResult {
  readonly minAccuracy: number;
  readonly calibrated: boolean;
  /**
   * Every check passed, every data file was evaluated and the file has no errors (a gate does not
   * pass on part of the data, or on a file that is not as its author meant it).
   */
  readonly passed: boolean;
  readonly checks: readonly GateCheck[];
}

/**
 * The figure sets `--gate` names, and the named patterns that were not evaluated (the gate fails on
 * them); or the message for a target that is none of these.
 */
function gateTargets(
  result: Evaluation,
  targets: readonly string[],
): { readonly sets: FigureSet[]; readonly excluded: ExcludedPattern[] } | string {
  const chosen = new Set<FigureSet>();
  const excluded = new Set<ExcludedPattern>();
  for (const target of targets) {
    // `all` means every pattern of the file, those that could not be evaluated too.
    const left = result.excluded.filter((e) => target === 'all' || e.pattern === target);
    left.forEach((e) => excluded.add(e));
    const matches =
      target === 'all'
        ? result.figures.filter((set) => set.kind !== 'weighted-ensemble')
        : target === 'ensemble'
          ? result.figures.filter((set) => set.kind === 'ensemble')
          : target === 'wmean' || target === 'weighted'
            ? result.figures.filter((set) => set.kind === 'weighted-ensemble')
            : result.figures.filter((set) => set.kind === 'pattern' && set.name === target);
    if (matches.length === 0 && left.length === 0) {
      const names = [
        ...result.figures.filter((set) => set.kind === 'pattern').map((set) => set.name),
        ...result.excluded.map((e) => e.pattern),
      ];
      return `--gate ${target}: no such pattern. Use ensemble, wmean, all or a pattern name (${names.join(', ')}).`;
    }
    matches.forEach((set) => chosen.add(set));
  }
  return { sets: result.figures.filter((set) => chosen.has(set)), excluded: [...excluded] };
}

function checkGate(
  result: Evaluation,
  { sets, excluded }: { readonly sets: readonly FigureSet[]; readonly excluded: readonly ExcludedPattern[] },
  minAccuracy: number,
): GateResult {
  const checks: GateCheck[] = sets.map((set) => {
    const accuracy = (result.calibrate ? set.calibrated : set.raw).accuracy;
    const nonFinite = nonFiniteRows(result, set);
    return {
      target: set.name,
      kind: set.kind,
      accuracy,
      passed: accuracy !== null && accuracy >= minAccuracy && nonFinite === 0,
      nonFinite,
    };
  });
  for (const e of excluded) {
    checks.push({
      target: e.pattern,
      kind: 'pattern',
      accuracy: null,
      passed: false,
      nonFinite: 0,
      notEvaluated: `line ${e.line}: ${e.reason}`,
    });
  }
  return { minAccuracy, calibrated: result.calibrate, passed: checks.every((c) => c.passed), checks };
}

/** NaN rows under a figure set: its pattern's, or for an ensemble the most of any pattern's. */
function nonFiniteRows(result: Evaluation, set: FigureSet): number {
  if (set.kind === 'pattern') return result.unscored[set.name]?.nonFinite ?? 0;
  return Math.max(0, ...Object.values(result.unscored).map((u) => u.nonFinite));
}

/** Why a gate check failed, starting with the target's name. */
function gateFailure(target: string, check: GateCheck, gate: GateResult, model: string, kind: string): string {
  if (check.notEvaluated !== undefined) return `${target} was not evaluated (${check.notEvaluated}), which a gate does not pass`;
  const below = check.accuracy === null || check.accuracy < gate.minAccuracy;
  const rows = `${check.nonFinite} row${check.nonFinite === 1 ? '' : 's'}`;
  const broken = `${rows} got NaN or infinite logits from ${model}, which a gate does not pass`;
  if (!below) return `${target}: ${broken}`;
  const low = `${target} ${kind} ${percent(check.accuracy)} is below --min-accuracy ${percent(gate.minAccuracy)}`;
  return check.nonFinite > 0 ? `${low}; ${broken}` : low;
}

/** What one model's evaluation gave: its figures, its engine, its gate. */
interface ModelRun {
  readonly result: Evaluation;
  readonly info: ModelInfo;
  readonly seconds: number;
  readonly gate: GateResult | undefined;
  /** The data files none of whose rows were evaluated, and why (the run then exits 1). */
  readonly notEvaluated: ReadonlyArray<{ readonly file: string; readonly reason: string }>;
  /** The file's errors as `cloze check` reports them (the run then exits 1); data files' own are in `notEvaluated`. */
  readonly fileErrors: readonly FileError[];
}

/** An error of the `.cloze` file, 1-based as `cloze check` prints it. */
export interface FileError {
  readonly line: number;
  readonly column: number;
  readonly code: string;
  readonly message: string;
}

/**
 * The file's errors that make its figures not those of the file as written: every error but those
 * about data files (on a `data:` line: unreadable, lacking a column, rows with other labels), which
 * `notEvaluated` and the skipped rows say, and which a `--data` on the command line replaces.
 */
function fileErrorsOf(session: ScoringSession): FileError[] {
  const onDataLine = (at: number): boolean => session.doc.data.some((d) => d.span.start <= at && at <= d.span.end);
  return session.errors
    .filter((d) => !d.code.startsWith('data-') && !onDataLine(d.span.start))
    .map((d) => {
      const { line, character } = positionAt(session.doc, d.span.start);
      return { line: line + 1, column: character + 1, code: d.code, message: d.message };
    });
}

/** What the rows that were read lacked, when none is left to evaluate: the skipped counts, and labels the verbalizer does not have. */
function whyNoRows(rows: Rows, doc: ClozeDocument): string {
  const skipped = Object.entries(rows.skipped).filter(([, n]) => n > 0);
  if (skipped.length === 0) return '';
  const quoted = (labels: readonly string[]): string => labels.map((label) => `\`${label}\``).join(', ');
  const shown = rows.undeclared.slice(0, 5);
  const labels =
    shown.length > 0
      ? `; the data's labels include ${quoted(shown)}${rows.undeclared.length > shown.length ? ', …' : ''}, the verbalizer's are ${quoted([...new Set(doc.verbalizers[0]?.entries.map((e) => e.label.text) ?? [])])}`
      : '';
  return `: skipped ${skipped.map(([reason, n]) => `${n} (${reason})`).join(', ')}${labels}`;
}

/** The labelled rows, read once for every model: they depend on the file and its labels, not on the model. */
type Rows = Awaited<ReturnType<typeof evaluationRows>>;

/** A model evaluated; or the whole run stopped (the file or the command is wrong, the same for every model); or this model failed. */
type Outcome = { readonly run: ModelRun } | { readonly stop: number } | { readonly failed: true };

/**
 * Evaluate one opened session: the path every model takes, alone or as one
 * of several (`--model a --model b`, a `models:` line).
 */
async function evaluateSession(
  session: ScoringSession,
  options: EvalCommandOptions,
  data: { rows?: Rows },
  progressLabel: string,
): Promise<Outcome> {
  const { doc, tokenizer, engine, file } = session;
  try {
    if (data.rows === undefined) {
      const fromCommandLine = options.data !== undefined && options.data.length > 0;
      // The same file named twice would count its rows twice.
      const files = [
        ...new Set(
          options.data && options.data.length > 0
            ? uniquePaths(options.data)
            : doc.data.map((d) => path.resolve(path.dirname(file), d.path)),
        ),
      ];
      if (files.length === 0) {
        process.stderr.write(`cloze eval: ${file} has no \`data:\` line; name a labelled JSONL, CSV or TSV file with --data.\n`);
        return { stop: 1 };
      }
      const labels = [...new Set(doc.verbalizers[0]?.entries.map((e) => e.label.text) ?? [])];
      data.rows = await evaluationRows(doc, files, labels, dataLimits(options), fromCommandLine ? 'command-line' : 'data-line');
      for (const problem of data.rows.problems) process.stderr.write(`cloze eval: ${problem}\n`);
      // A --data path that cannot be read is a mistake in the command (exit 2), not a result; a gate must not pass on the other files.
      if (fromCommandLine && data.rows.notEvaluated.some((f) => f.unreadable)) return { stop: 2 };
    }
    const { rows, rowFiles, sources, skipped } = data.rows;
    if (rows.length === 0) {
      process.stderr.write(`cloze eval: no labelled row with a label of the verbalizer to evaluate on${whyNoRows(data.rows, doc)}.\n`);
      return { stop: 1 };
    }
    const bar =
      process.stderr.isTTY && options.format !== 'json'
        ? new SingleBar({
            format: `${progressLabel} {bar} {value}/{total} rows · {eta}s left`,
            clearOnComplete: true,
            stream: process.stderr,
          })
        : undefined;
    bar?.start(options.limit !== undefined ? Math.min(options.limit, rows.length) : rows.length, 0);
    const started = performance.now();
    const result = await evaluate(doc, tokenizer, (inputs, wordIds, topK) => engine.score(inputs, wordIds, topK), rows, sources, skipped, {
      calibrate: options.calibrate ?? false,
      calibration: options.calibration ?? 'content-free',
      rowFiles,
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
      // `--errors 0` lists none; it said "no misclassified rows" when there were some.
      ...(options.errors !== undefined && options.errors > 0 ? { errors: options.errors } : {}),
      onProgress: (done) => bar?.update(done),
    });
    bar?.stop();
    const seconds = (performance.now() - started) / 1000;

    let gate: GateResult | undefined;
    if (options.minAccuracy !== undefined) {
      const sets = gateTargets(result, options.gate && options.gate.length > 0 ? options.gate : ['ensemble']);
      if (typeof sets === 'string') {
        process.stderr.write(`cloze eval: ${sets}\n`);
        return { stop: 2 };
      }
      gate = checkGate(result, sets, options.minAccuracy);
    }
    const notEvaluated = data.rows.notEvaluated.map(({ path: notRead, reason }) => ({ file: notRead, reason }));
    return { run: { result, info: engine.info, seconds, gate, notEvaluated, fileErrors: fileErrorsOf(session) } };
  } catch (error) {
    session.scoringFailed(error);
    return { failed: true };
  } finally {
    await engine.dispose();
  }
}

/** The gate's failures on stderr, each naming the model when there are several. */
function reportGate(run: ModelRun, several: boolean): void {
  const { gate } = run;
  if (!gate) return;
  for (const check of gate.checks.filter((c) => !c.passed)) {
    const kind = `${gate.calibrated ? 'calibrated ' : ''}accuracy`;
    process.stderr.write(
      `cloze eval: ${several ? `${run.result.model}: ` : ''}${gateFailure(check.target, check, gate, run.result.model, kind)}\n`,
    );
  }
}

export async function runEval(file: string, given: EvalCommandOptions): Promise<number> {
  if (given.gate && given.gate.length > 0 && given.minAccuracy === undefined) {
    process.stderr.write('cloze eval: --gate names what --min-accuracy checks; give --min-accuracy too.\n');
    return 2;
  }
  const requested = given.model === undefined ? [] : typeof given.model === 'string' ? [given.model] : given.model;
  const columns = previewColumns(file, requested, { ...given, model: undefined });
  if (columns.length > 1) return runEvalModels(file, columns, given);

  let unavailable: string | undefined;
  let modelFound = false;
  const session = await openScoringSession(
    file,
    {
      ...given,
      model: requested[0],
      onModelUnavailable: (message, found) => {
        unavailable = message;
        modelFound = found;
      },
    },
    'evaluated',
  );
  const id = (): string => columnId(file, requested[0] !== undefined ? { override: requested[0] } : {}, { ...given, model: undefined });
  if (typeof session === 'number') {
    if (unavailable !== undefined) {
      // Where models are looked for helps when the model was not found, not when its own files fail.
      if (!modelFound) process.stderr.write(`cloze eval: ${modelsLookup(given)}\n`);
      printUnavailable(file, [{ model: id(), message: unavailable }], given.format);
    }
    return session;
  }
  session.report(session.errors);
  const data: { rows?: Rows } = {};
  const outcome = await evaluateSession(session, given, data, 'scoring');
  if ('stop' in outcome) return outcome.stop;
  if ('failed' in outcome) {
    printUnavailable(file, [{ model: id(), message: unavailable ?? `Model ${id()} could not be scored.` }], given.format);
    return 1;
  }
  const { result, info, seconds, gate } = outcome.run;
  if (given.format === 'json') {
    process.stdout.write(`${JSON.stringify(evaluationJson(outcome.run, file), null, 2)}\n`);
  } else if (given.format === 'junit') {
    const suite = junitSuite(result, file, info.file, gate, seconds, false, outcome.run);
    process.stdout.write(junitXml(suite));
  } else {
    process.stdout.write(evaluationText(result, info.file));
  }
  reportGate(outcome.run, false);
  const partial = unreadableData(data);
  const broken = fileWithErrors(file, outcome.run.fileErrors);
  return partial || broken || (gate && !gate.passed) ? 1 : 0;
}

/**
 * A file with errors (a pattern with two masks, a label word of two tokens, a label declared twice)
 * is evaluated as far as it can be, but the run fails: its figures are not those of the file its
 * author meant, and a CI gate must not pass on it. Said on stderr (the errors were listed before the
 * report); true when so.
 */
function fileWithErrors(file: string, errors: readonly FileError[]): boolean {
  if (errors.length === 0) return false;
  process.stderr.write(
    `cloze eval: exit 1: ${file} has ${errors.length === 1 ? 'an error' : `${errors.length} errors`} (listed above; \`cloze check\` lists them too), so the figures are not those of the file as written.\n`,
  );
  return true;
}

/**
 * A data file none of whose rows were evaluated (unreadable, empty, lacking a column): the figures
 * are of the other files, so the run must not pass (a CI gate would otherwise pass on part of the
 * data). Said on stderr (the reasons were said before the report); true when so.
 */
function unreadableData(data: { rows?: Rows }): boolean {
  const skipped = data.rows?.notEvaluated ?? [];
  if (skipped.length === 0) return false;
  process.stderr.write(
    `cloze eval: exit 1: ${skipped.map((f) => path.basename(f.path)).join(', ')} ${skipped.length === 1 ? 'was' : 'were'} not evaluated, so the figures are of the other data files only.\n`,
  );
  return true;
}

/** The single-model JSON object (unchanged since one model was all `cloze eval` did); several models hold one each. */
function evaluationJson(run: ModelRun, file?: string): object {
  return {
    ...run.result,
    ...(file !== undefined ? { file } : {}),
    quantized: run.info.quantized,
    engine: engineReport(run.info),
    // One model: its gate is the run's, which does not pass on part of the data. With several, each model's gate is
    // its figures' alone (`gate.failed` names the models below it) and the top-level gate says the rest.
    ...(run.gate
      ? {
          gate:
            file !== undefined && (run.notEvaluated.length > 0 || run.fileErrors.length > 0) ? { ...run.gate, passed: false } : run.gate,
        }
      : {}),
    notEvaluated: run.notEvaluated,
    fileErrors: run.fileErrors,
  };
}

/**
 * Where the CLI looks for models, said after a model could not be loaded: the
 * model layer's message may name the editor's setting (a failed download
 * does), and a CI log needs the flag and the variable.
 */
function modelsLookup(options: ScoringOptions | EvalCommandOptions): string {
  const where = options.modelsDir ?? process.env['CLOZE_MODELS_DIR'];
  return `models are looked for in --models-dir or CLOZE_MODELS_DIR (${where ? `now ${where}` : 'not set'}), <dir>/<model id>/.`;
}

/** A model that could not be loaded or failed while scoring, and the message said for it. */
interface Unavailable {
  readonly model: string;
  readonly message: string;
}

/** The id a column evaluates, for messages about a model that could not be loaded (the file's default when the column names none). */
function columnId(file: string, column: ModelColumn, options: ScoringOptions): string {
  if (column.override !== undefined) return column.override;
  if (column.listed !== undefined) return column.listed;
  try {
    const doc = parse(readSourceText(file));
    return createService(options).modelChoice(doc, file).id;
  } catch {
    return 'the default model';
  }
}

/** Whether the file cannot be evaluated with any model (its structure, not a model, is the problem). */
async function fileBlocked(file: string, options: EvalCommandOptions): Promise<boolean> {
  try {
    const doc = parse(readSourceText(file));
    const structural = await createService({ modelsDir: options.modelsDir, offline: options.offline }).checkStructure(
      doc,
      file,
      dataLimits(options),
    );
    return scoringBlockers(doc, structural, 'evaluated').length > 0;
  } catch {
    return false;
  }
}

/**
 * `cloze eval` with several models: each is loaded, evaluated on the same
 * rows and disposed in turn (one engine in memory at a time), through the
 * same evaluateSession as a single model; the gate applies to every model.
 * A model that cannot be loaded is reported and fails the run (exit 1), and
 * the others are still evaluated and shown.
 */
async function runEvalModels(file: string, columns: readonly ModelColumn[], options: EvalCommandOptions): Promise<number> {
  const runs: ModelRun[] = [];
  const unavailable: Unavailable[] = [];
  // Problems shared by every model (the file's structure) are said once.
  const said = new Set<string>();
  const data: { rows?: Rows } = {};
  let notFound = 0;
  for (const [i, column] of columns.entries()) {
    const id = columnId(file, column, { ...options, model: undefined });
    let reason = `Model ${id} could not be loaded or scored.`;
    const session = await openScoringSession(
      file,
      {
        ...options,
        model: column.override,
        listedModel: column.listed,
        onModelUnavailable: (message, found) => {
          reason = message;
          if (!found) notFound++;
        },
      },
      'evaluated',
      said,
    );
    if (typeof session === 'number') {
      if (session === 2) return 2;
      // The file itself cannot be evaluated (no verbalizer, no pattern with one mask): said once, not once per model.
      if (unavailable.length === 0 && runs.length === 0 && (await fileBlocked(file, options))) return 1;
      unavailable.push({ model: id, message: reason });
      continue;
    }
    session.report(session.errors);
    const outcome = await evaluateSession(session, options, data, `model ${i + 1}/${columns.length} ${session.engine.info.id}`);
    if ('stop' in outcome) return outcome.stop;
    if ('failed' in outcome) unavailable.push({ model: id, message: reason });
    else runs.push(outcome.run);
  }
  const missing = unavailable.map((u) => u.model);
  if (unavailable.length > 0) {
    process.stderr.write(
      `cloze eval: ${missing.join(', ')} could not be ${runs.length > 0 ? 'evaluated (the other models were)' : 'evaluated'}${notFound > 0 ? `; ${modelsLookup(options)}` : '.'}\n`,
    );
  }
  if (runs.length === 0) {
    printUnavailable(file, unavailable, options.format);
    return 1;
  }

  const failedGate = runs.filter((run) => run.gate && !run.gate.passed).map((run) => run.result.model);
  // A model that could not be evaluated did not pass: `passed` is true only when every model was evaluated and passed.
  const gate =
    options.minAccuracy !== undefined
      ? {
          minAccuracy: options.minAccuracy,
          calibrated: options.calibrate ?? false,
          passed:
            failedGate.length === 0 &&
            unavailable.length === 0 &&
            (runs[0]?.notEvaluated.length ?? 0) === 0 &&
            runs.every((run) => run.fileErrors.length === 0),
          failed: failedGate,
        }
      : undefined;
  if (options.format === 'json') {
    const evaluations = runs.map((run) => evaluationJson(run));
    process.stdout.write(
      `${JSON.stringify({ file, models: runs.map((run) => run.result.model), evaluations, unavailable, notEvaluated: runs[0]?.notEvaluated ?? [], ...(gate ? { gate } : {}) }, null, 2)}\n`,
    );
  } else if (options.format === 'junit') {
    const suites = runs.map((run) => junitSuite(run.result, file, run.info.file, run.gate, run.seconds, true, run));
    suites.push(...unavailable.map((u) => unavailableSuite(file, u)));
    process.stdout.write(junitReport(`cloze eval ${path.basename(file)}`, suites));
  } else {
    process.stdout.write(runs.map((run) => evaluationText(run.result, run.info.file)).join('\n'));
    process.stdout.write(`\n${formatSideBySide(runs, missing)}`);
  }
  for (const run of runs) reportGate(run, true);
  if (failedGate.length > 0) {
    process.stderr.write(
      `cloze eval: the gate failed for ${failedGate.join(', ')} (${failedGate.length} of the ${runs.length} ${runs.length === 1 ? 'model' : 'models'} evaluated)\n`,
    );
  }
  const partial = unreadableData(data);
  // Each model's token checks differ (a word one token in one vocabulary and two in another): the most errors any had.
  const broken = fileWithErrors(
    file,
    runs.map((run) => run.fileErrors).reduce((a, b) => (b.length > a.length ? b : a), []),
  );
  return unavailable.length > 0 || failedGate.length > 0 || partial || broken ? 1 : 0;
}

/** A model that could not be loaded or scored, as a JUnit suite with one `error` case (a CI test tab then shows why). */
function unavailableSuite(file: string, { model, message }: Unavailable): JUnitSuite {
  const name = `cloze eval ${path.basename(file)} · ${model}`;
  return {
    name,
    timeSeconds: 0,
    timestamp: new Date().toISOString().replace(/\.\d+Z$/, ''),
    properties: [['model', model]],
    cases: [{ classname: name, name: `${model}: load the model`, error: { type: 'model-unavailable', message, details: message } }],
  };
}

/**
 * When no model could be evaluated, `--format json` and `--format junit` still
 * print a report on stdout, so a CI step that parses it reads why instead of
 * failing on an empty file: the several-models JSON with no evaluation, and a
 * JUnit error per model. Text output says it on stderr (already done).
 */
function printUnavailable(file: string, unavailable: readonly Unavailable[], format: EvalCommandOptions['format']): void {
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify({ file, models: [], evaluations: [], unavailable }, null, 2)}\n`);
  } else if (format === 'junit') {
    process.stdout.write(
      junitReport(
        `cloze eval ${path.basename(file)}`,
        unavailable.map((u) => unavailableSuite(file, u)),
      ),
    );
  }
}

/** Every model's accuracy and macro-F1 per pattern and ensemble, a column per model; then the gate per model. */
function formatSideBySide(runs: readonly ModelRun[], unavailable: readonly string[]): string {
  const [first] = runs;
  const calibrate = first.result.calibrate;
  const total = first.result.evaluated;
  // A model leaves out of a pattern's figures the rows it cannot score there: text holding its own mask
  // token (`<mask>` for RoBERTa, `[MASK]` for BERT), the mask cut off at its max length, NaN logits. So
  // the rows differ between models, and an evaluation has their counts, not which rows they are: "the
  // same rows" is said only when no model left one out.
  const leftOut = runs.map((run) =>
    Object.entries(run.result.unscored)
      .map(([pattern, u]) => ({ pattern, n: u.maskCutOff + u.nonFinite + u.severalMasks, u }))
      .filter((entry) => entry.n > 0),
  );
  const same = leftOut.every((entries) => entries.length === 0);
  const measure = `${calibrate ? 'calibrated accuracy' : 'accuracy'} · macro-F1`;
  const lines = [
    same
      ? `side by side: ${measure} on the same ${total} rows`
      : `side by side: ${measure} on the rows each model scored, of ${total} (they may differ: below)`,
  ];
  const nameWidth = Math.max(19, ...first.result.figures.map((set) => set.name.length + 2));
  const cellWidth = Math.max(15, ...runs.map((run) => run.result.model.length + 2));
  lines.push(`  ${'pattern'.padEnd(nameWidth)}${runs.map((run) => run.result.model.padEnd(cellWidth)).join('')}`.trimEnd());
  for (const set of first.result.figures) {
    const cells = runs.map((run) => {
      const own = run.result.figures.find((other) => other.kind === set.kind && other.name === set.name);
      const figures = own ? (calibrate ? own.calibrated : own.raw) : undefined;
      return `${percent(figures?.accuracy ?? null)} · ${fixed(figures?.macroF1 ?? null)}`.padEnd(cellWidth);
    });
    lines.push(`  ${set.name.padEnd(nameWidth)}${cells.join('')}`.trimEnd());
  }
  if (runs.some((run) => run.gate)) {
    const cells = runs.map((run) => (run.gate ? (run.gate.passed ? 'passed' : 'FAILED') : '').padEnd(cellWidth));
    const min = runs.find((run) => run.gate)?.gate?.minAccuracy ?? null;
    lines.push(`  ${`gate ≥ ${percent(min)}`.padEnd(nameWidth)}${cells.join('')}`.trimEnd());
  }
  if (!same) {
    lines.push(`rows each model scored, of ${total}:`);
    const modelWidth = Math.max(...runs.map((run) => run.result.model.length));
    runs.forEach((run, i) => {
      const scored =
        leftOut[i].length === 0
          ? `all ${total}`
          : leftOut[i]
              .map(({ pattern, n, u }) => {
                const why = [
                  ...(u.severalMasks > 0 ? [`${u.severalMasks} whose text holds its mask token`] : []),
                  ...(u.maskCutOff > 0 ? [`${u.maskCutOff} with the mask cut off`] : []),
                  ...(u.nonFinite > 0 ? [`${u.nonFinite} with NaN or infinite logits`] : []),
                ];
                return `${pattern} ${total - n} (left out: ${why.join(', ')})`;
              })
              .join('; ');
      lines.push(`  ${run.result.model.padEnd(modelWidth)}  ${scored}`);
    });
  }
  if (unavailable.length > 0) lines.push(`not evaluated (could not be loaded or scored): ${unavailable.join(', ')}`);
  return `${lines.join('\n')}\n`;
}

/**
 * One JUnit suite: a test case per pattern and ensemble. With several models
 * (`several`) the suite, its class name and each case name carry the model, so
 * a CI report tells the models' cases apart; one model keeps the names it
 * always had.
 */
function junitSuite(
  result: Evaluation,
  file: string,
  modelFile: string,
  gate: GateResult | undefined,
  seconds: number,
  several: boolean,
  { notEvaluated, fileErrors }: Pick<ModelRun, 'notEvaluated' | 'fileErrors'>,
): JUnitSuite {
  const gated = new Map(gate?.checks.map((check) => [`${check.kind}\u0000${check.target}`, check]));
  const classname = `cloze eval ${path.basename(file)}${several ? ` · ${result.model}` : ''}`;
  const named = (name: string): string => (several ? `${name} (${result.model})` : name);
  const cases: JUnitCase[] = result.figures.map((set) => {
    const figures = result.calibrate ? set.calibrated : set.raw;
    const check =
      set.kind === 'pattern' || set.kind === 'ensemble' || set.kind === 'weighted-ensemble'
        ? gated.get(`${set.kind}\u0000${set.name}`)
        : undefined;
    const kind = result.calibrate ? 'calibrated accuracy' : 'accuracy';
    const summary = [
      `${kind} ${percent(figures.accuracy)} · macro-F1 ${fixed(figures.macroF1)} · swap ${percent(figures.swapAccuracy)}`,
      ...result.labels.map((label) => {
        const f = figures.perLabel[label];
        return `${label}: precision ${fixed(f.precision)} recall ${fixed(f.recall)} F1 ${fixed(f.f1)} support ${f.support}`;
      }),
    ].join('\n');
    const errors =
      set.kind === 'ensemble' && result.errors && result.errors.length > 0
        ? `\nworst misclassified rows:\n${result.errors.map((e) => `${path.basename(e.file)}:${e.line} gold ${e.label} predicted ${e.predicted} P(gold) ${percent(e.goldProbability)} ${Object.values(e.fields).join(' · ')}`).join('\n')}`
        : '';
    return {
      classname,
      name: check ? `${named(set.name)}: ${kind} at least ${percent(gate?.minAccuracy ?? null)}` : `${named(set.name)}: ${kind}`,
      ...(check && !check.passed
        ? {
            failure: {
              type: check.nonFinite > 0 ? 'not-scored' : 'min-accuracy',
              message: gate ? gateFailure(named(set.name), check, gate, result.model, kind) : named(set.name),
              details: summary,
            },
          }
        : {}),
      systemOut: summary + errors,
    };
  });
  return {
    name: classname,
    timeSeconds: seconds,
    timestamp: new Date().toISOString().replace(/\.\d+Z$/, ''),
    properties: [
      ['model', result.model],
      ['modelFile', modelFile],
      ['rows', String(result.evaluated)],
      ...Object.entries(result.unscored).map(([pattern, u]): [string, string] => [
        `unscored ${pattern}`,
        `mask cut off ${u.maskCutOff}, NaN or infinite logits ${u.nonFinite}, mask token in the text ${u.severalMasks}`,
      ]),
      ['calibration', result.calibration],
      ['calibrate', String(result.calibrate)],
      ['data', result.sources.map((s) => s.path).join(', ')],
    ],
    // A data file that was not evaluated is an error case: a CI test tab shows why the run failed.
    cases: [
      ...notEvaluated.map(({ file: dataFile, reason }): JUnitCase => ({
        classname,
        name: named(`data ${path.basename(dataFile)}`),
        error: { type: 'data-not-evaluated', message: reason, details: `${dataFile}: ${reason}` },
      })),
      // The file's errors, one error case: the run failed for them, whatever the figures.
      ...(fileErrors.length > 0
        ? [
            {
              classname,
              name: named(`${path.basename(file)}: errors`),
              error: {
                type: 'file-errors',
                message: `${path.basename(file)} has ${fileErrors.length === 1 ? 'an error' : `${fileErrors.length} errors`}: ${fileErrors[0].message}${fileErrors.length > 1 ? ' …' : ''}`,
                details: fileErrors.map((e) => `${file}:${e.line}:${e.column} error ${e.code} ${e.message}`).join('\n'),
              },
            } satisfies JUnitCase,
          ]
        : []),
      ...cases,
      // A gated pattern that was not evaluated has no figures: its check fails on its own case.
      ...(gate
        ? gate.checks
            .filter((check) => check.notEvaluated !== undefined)
            .map((check): JUnitCase => ({
              classname,
              name: `${named(check.target)}: ${result.calibrate ? 'calibrated accuracy' : 'accuracy'} at least ${percent(gate.minAccuracy)}`,
              failure: {
                type: 'not-evaluated',
                message: gateFailure(named(check.target), check, gate, result.model, 'accuracy'),
                details: check.notEvaluated ?? '',
              },
            }))
        : []),
    ],
  };
}
