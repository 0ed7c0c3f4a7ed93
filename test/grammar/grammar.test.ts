// Tests for the TextMate grammar (syntaxes/cloze.tmLanguage.json) and the language configuration.
//
// Each case tokenizes a small document line by line, carrying the rule stack from line to line as
// VS Code does, and checks the scopes of given substrings. A check `[needle, scope]` passes when
// every token that overlaps the needle carries `scope` or a more specific scope below it (TextMate
// selector semantics: `keyword` matches `keyword.other.model.cloze`). A check `[needle, '!scope']`
// passes when no overlapping token does. The needle is the first occurrence in the document, or
// the n-th (0-based) when a third element is given. Unless a case expects an `invalid` scope, no
// token of its document may carry one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as oniguruma from 'vscode-oniguruma';
import * as vsctm from 'vscode-textmate';
import { repoRoot } from '../support/paths';

const root = repoRoot;
const grammarPath = path.join(root, 'syntaxes', 'cloze.tmLanguage.json');
const languageConfigurationPath = path.join(root, 'language-configuration.json');
const wasmPath = path.join(root, 'node_modules', 'vscode-oniguruma', 'release', 'onig.wasm');

type Check = readonly [needle: string, scope: string, occurrence?: number];

interface Case {
  readonly name: string;
  readonly lines: readonly string[];
  readonly checks: readonly Check[];
}

const MASK = 'variable.language.mask.cloze';
const SPECIAL = 'constant.language.special-token.cloze';
const PLACEHOLDER = 'variable.parameter.placeholder.cloze';
const PATTERN_TEXT = 'string.unquoted.pattern.cloze';
const EXAMPLE_TEXT = 'string.unquoted.example.cloze';
const LABEL = 'entity.name.tag.label.cloze';
const LABEL_WORD = 'string.other.label-word.cloze';
const FIELD = 'variable.other.field.cloze';
const COMMENT = 'comment.line.number-sign.cloze';
const ESCAPE = 'constant.character.escape.cloze';

const cases: readonly Case[] = [
  {
    name: 'comment line',
    lines: ['# Sentiment as a cloze question. Lines that start with # are comments.'],
    checks: [
      ['#', 'punctuation.definition.comment.cloze'],
      ['Sentiment as a cloze question', COMMENT],
      ['start with # are', COMMENT],
      ['Sentiment', '!keyword'],
    ],
  },
  {
    name: 'indented comment line at top level',
    lines: ['   # pattern: not a pattern [MASK]'],
    checks: [
      ['pattern: not a pattern [MASK]', COMMENT],
      ['pattern', '!keyword'],
      ['[MASK]', `!${MASK}`],
    ],
  },
  {
    name: 'model with a hub id',
    lines: ['model: Xenova/bert-base-uncased'],
    checks: [
      ['model', 'keyword.other.model.cloze'],
      [':', 'punctuation.separator.key-value.cloze'],
      ['Xenova/bert-base-uncased', 'string.unquoted.model.cloze'],
      ['Xenova/bert-base-uncased', '!keyword'],
    ],
  },
  {
    name: 'model with a relative path',
    lines: ['model:./models/mine'],
    checks: [
      ['model', 'keyword.other.model.cloze'],
      ['./models/mine', 'string.unquoted.model.cloze'],
    ],
  },
  {
    name: 'models: a list of model ids',
    lines: ['model: tiny-random-bert-uncased', 'models: tiny-random-roberta, ./models/mine'],
    checks: [
      ['models', 'keyword.other.models.cloze'],
      ['tiny-random-roberta', 'string.unquoted.model.cloze'],
      ['./models/mine', 'string.unquoted.model.cloze'],
      [',', 'punctuation.separator.cloze'],
      ['tiny-random-roberta', '!keyword'],
    ],
  },
  {
    name: 'data path',
    lines: ['data: reviews.jsonl'],
    checks: [
      ['data', 'keyword.other.data.cloze'],
      ['reviews.jsonl', 'string.unquoted.path.cloze'],
      ['reviews.jsonl', '!string.unquoted.model'],
    ],
  },
  {
    name: 'named pattern',
    lines: ['pattern short: {review} It was [MASK].'],
    checks: [
      ['pattern', 'keyword.other.pattern.cloze'],
      ['short', 'entity.name.function.pattern.cloze'],
      ['short', `!${PATTERN_TEXT}`],
      ['{review}', PLACEHOLDER],
      ['{review}', PATTERN_TEXT],
      ['{', 'punctuation.definition.placeholder.begin.cloze'],
      ['review', 'variable.parameter.placeholder.name.cloze'],
      ['}', 'punctuation.definition.placeholder.end.cloze'],
      [' It was ', PATTERN_TEXT],
      [' It was ', `!${PLACEHOLDER}`],
      [' It was ', `!${MASK}`],
      ['[MASK]', MASK],
      ['[MASK]', `!${PLACEHOLDER}`],
      ['[MASK]', `!${SPECIAL}`],
      ['.', PATTERN_TEXT, 0],
    ],
  },
  {
    name: 'unnamed pattern with two fields and a colon in its text',
    lines: ['pattern: Premise: {premise}? [MASK], {hypothesis}'],
    checks: [
      ['pattern', 'keyword.other.pattern.cloze'],
      ['Premise', PATTERN_TEXT],
      ['Premise', '!entity.name.function'],
      ['{premise}', PLACEHOLDER],
      ['{hypothesis}', PLACEHOLDER],
      ['[MASK]', MASK],
      [', ', `!punctuation.separator`],
    ],
  },
  {
    name: 'pattern name aligned with extra spaces',
    lines: ['pattern long:  {review} All in all, it was [MASK].'],
    checks: [
      ['long', 'entity.name.function.pattern.cloze'],
      ['All in all, it was ', PATTERN_TEXT],
      ['[MASK]', MASK],
    ],
  },
  {
    name: 'RoBERTa pattern with <mask>, <s>, </s>',
    lines: ['pattern roberta: <s>{review}</s> It was <mask>.'],
    checks: [
      ['roberta', 'entity.name.function.pattern.cloze'],
      // The parser reads <mask> as the mask, so it is scoped like [MASK].
      ['<mask>', MASK],
      ['<mask>', `!${SPECIAL}`],
      ['<s>', SPECIAL],
      ['</s>', SPECIAL],
      ['{review}', PLACEHOLDER],
      [' It was ', PATTERN_TEXT],
    ],
  },
  {
    name: 'BERT pattern with [SEP] and [CLS]',
    lines: ['pattern pair: [CLS] {premise} [SEP] {hypothesis} [MASK]'],
    checks: [
      ['[CLS]', SPECIAL],
      ['[SEP]', SPECIAL],
      ['[SEP]', `!${PLACEHOLDER}`],
      ['[MASK]', MASK],
      ['{hypothesis}', PLACEHOLDER],
    ],
  },
  {
    name: 'lookalikes of special tokens are plain text',
    lines: ['pattern: {x} [mask] [MASK ] <Mask> <S> [MASK]'],
    checks: [
      ['[mask]', PATTERN_TEXT],
      ['[mask]', `!${MASK}`],
      ['[MASK ]', `!${MASK}`],
      ['<Mask>', `!${SPECIAL}`],
      ['<Mask>', `!${MASK}`],
      ['<S>', `!${SPECIAL}`],
      ['[MASK]', MASK],
    ],
  },
  {
    name: 'escapes in pattern text',
    lines: ['pattern: \\{not a field\\} \\[MASK\\] back\\\\slash {text} [MASK]'],
    checks: [
      ['\\{', ESCAPE],
      ['\\}', ESCAPE],
      ['\\[', ESCAPE],
      ['\\]', ESCAPE],
      ['\\\\', ESCAPE],
      ['not a field', PATTERN_TEXT],
      ['not a field', `!${PLACEHOLDER}`],
      ['MASK', `!${MASK}`, 0],
      ['{text}', PLACEHOLDER],
      ['[MASK]', MASK],
    ],
  },
  {
    name: 'invalid escapes',
    lines: ['pattern: {review} it was\\n [MASK] \\q end\\'],
    checks: [
      ['\\n', 'invalid.illegal.escape.cloze'],
      ['\\n', `!${ESCAPE}`],
      ['\\q', 'invalid.illegal.escape.cloze'],
      ['\\', 'invalid.illegal.escape.cloze', 2],
      ['[MASK]', MASK],
      [' it was', '!invalid'],
    ],
  },
  {
    name: 'unclosed placeholder',
    lines: ['pattern: {review It was [MASK].'],
    checks: [
      ['{', 'invalid.illegal.unclosed-placeholder.cloze'],
      ['review', `!${PLACEHOLDER}`],
      ['[MASK]', MASK],
    ],
  },
  {
    name: 'invalid placeholders and stray braces',
    lines: ['pattern: {two words} {} {a{b} [MASK] x}'],
    checks: [
      ['{two words}', 'invalid.illegal.placeholder.cloze'],
      ['{two words}', `!${PLACEHOLDER}`],
      ['{}', 'invalid.illegal.placeholder.cloze'],
      ['{', 'invalid.illegal.unclosed-placeholder.cloze', 2],
      ['a', `!${PLACEHOLDER}`, 1],
      ['{b}', PLACEHOLDER],
      ['{b}', '!invalid'],
      ['[MASK]', MASK],
      ['}', 'invalid.illegal.unmatched-brace.cloze', 3],
      ['x', '!invalid', 0],
    ],
  },
  {
    name: 'statements must start at column 0',
    lines: ['  pattern: {x} [MASK]', ' model: x', '  example positive: text'],
    checks: [
      ['pattern', '!keyword'],
      ['[MASK]', `!${MASK}`],
      ['model', '!keyword'],
      ['example', '!keyword'],
      ['positive', `!${LABEL}`],
    ],
  },
  {
    name: 'a # inside pattern text is not a comment',
    lines: ['pattern: {tweet} #[MASK]'],
    checks: [
      ['#', PATTERN_TEXT],
      ['#', '!comment'],
      ['[MASK]', MASK],
    ],
  },
  {
    name: 'Chinese pattern, labels, label words and example',
    lines: [
      'model: bert-base-chinese',
      'pattern: {评论}这家餐厅太[MASK]了!',
      'verbalizer:',
      '  正面: 好, 棒',
      '  负面: 差',
      'example 正面: 带女朋友去了一家餐厅,她吃的很开心',
    ],
    checks: [
      ['{评论}', PLACEHOLDER],
      ['评论', 'variable.parameter.placeholder.name.cloze'],
      ['这家餐厅太', PATTERN_TEXT],
      ['这家餐厅太', `!${PLACEHOLDER}`],
      ['[MASK]', MASK],
      ['verbalizer', 'keyword.other.verbalizer.cloze'],
      ['正面', LABEL, 0],
      ['好', LABEL_WORD],
      [',', 'punctuation.separator.cloze', 0],
      ['棒', LABEL_WORD],
      ['负面', LABEL],
      ['差', LABEL_WORD],
      ['example', 'keyword.other.example.cloze'],
      ['正面', LABEL, 1],
      ['带女朋友去了一家餐厅,她吃的很开心', EXAMPLE_TEXT],
      ['带女朋友去了一家餐厅,她吃的很开心', '!punctuation'],
    ],
  },
  {
    name: 'verbalizer block with a comment inside and a statement after it',
    lines: [
      'verbalizer:',
      '  positive: great, good',
      '  # these are the negative words',
      '# a comment at column 0 keeps the block open',
      '',
      '  negative: terrible , bad',
      'example positive: great stuff',
    ],
    checks: [
      ['verbalizer', 'keyword.other.verbalizer.cloze'],
      ['positive', LABEL, 0],
      ['great', LABEL_WORD, 0],
      [',', 'punctuation.separator.cloze', 0],
      ['good', LABEL_WORD],
      ['# these are the negative words', COMMENT],
      ['these are the negative words', `!${LABEL}`],
      ['these are the negative words', `!${LABEL_WORD}`],
      ['# a comment at column 0', COMMENT],
      ['negative', LABEL, 1],
      ['terrible', LABEL_WORD],
      [' , ', `!${LABEL_WORD}`],
      ['bad', LABEL_WORD],
      ['example', 'keyword.other.example.cloze'],
      ['example', `!${LABEL}`],
      ['positive', LABEL, 1],
      ['great stuff', EXAMPLE_TEXT],
      ['great stuff', `!${LABEL_WORD}`],
    ],
  },
  {
    name: 'keywords as labels inside a verbalizer block',
    lines: ['verbalizer:', '  model: a', '  example: b', 'pattern: {x} [MASK]'],
    checks: [
      ['model', LABEL],
      ['model', '!keyword'],
      ['example', LABEL],
      ['a', LABEL_WORD, 1],
      ['pattern', 'keyword.other.pattern.cloze'],
      ['[MASK]', MASK],
    ],
  },
  {
    name: 'label words with apostrophes and hyphens',
    lines: ['verbalizer:', "  no: don't, well-known,bad"],
    checks: [
      ["don't", LABEL_WORD],
      ['well-known', LABEL_WORD],
      [',', 'punctuation.separator.cloze', 1],
      ['bad', LABEL_WORD],
    ],
  },
  {
    name: 'single-line examples, labelled and unlabelled',
    lines: [
      'example positive: I like the Disney films very much.',
      'example: The soundtrack had its moments.',
      'example ?: Was it any good? Who knows: {review} [MASK]',
    ],
    checks: [
      ['example', 'keyword.other.example.cloze', 0],
      ['positive', LABEL],
      ['I like the Disney films very much.', EXAMPLE_TEXT],
      ['I like the Disney films very much.', '!keyword'],
      ['The soundtrack had its moments.', EXAMPLE_TEXT],
      ['?', 'constant.language.unlabelled.cloze', 0],
      ['?', `!${LABEL}`, 0],
      ['Was it any good? Who knows: {review} [MASK]', EXAMPLE_TEXT],
      ['?', '!constant.language', 1],
      ['{review}', `!${PLACEHOLDER}`],
      ['[MASK]', `!${MASK}`],
    ],
  },
  {
    name: 'example text that starts with a keyword',
    lines: ['example negative: pattern: model: data: the plot was dull'],
    checks: [
      ['negative', LABEL],
      ['pattern: model: data: the plot was dull', EXAMPLE_TEXT],
      ['pattern: model: data: the plot was dull', '!keyword'],
    ],
  },
  {
    name: 'multi-field example',
    lines: [
      'example entailment:',
      '  premise: A man is playing a guitar on stage.',
      '  # hypothesis below',
      '  hypothesis: A person is making music: loudly.',
      'example ?:',
      '  premise: Nobody came.',
      'data: nli.tsv',
    ],
    checks: [
      ['example', 'keyword.other.example.cloze', 0],
      ['entailment', LABEL],
      ['premise', FIELD, 0],
      ['premise', `!${LABEL}`, 0],
      ['A man is playing a guitar on stage.', EXAMPLE_TEXT],
      ['A man is playing a guitar on stage.', `!${FIELD}`],
      ['# hypothesis below', COMMENT],
      ['hypothesis below', `!${FIELD}`],
      ['hypothesis', FIELD, 1],
      ['A person is making music: loudly.', EXAMPLE_TEXT],
      ['example', 'keyword.other.example.cloze', 1],
      ['?', 'constant.language.unlabelled.cloze'],
      ['premise', FIELD, 1],
      ['Nobody came.', EXAMPLE_TEXT],
      ['data', 'keyword.other.data.cloze'],
      ['data', `!${FIELD}`],
      ['nli.tsv', 'string.unquoted.path.cloze'],
    ],
  },
  {
    name: 'multi-field example with Chinese label and field names',
    lines: ['example 正面:', '  评论: 很好吃', '  作者_2: 小明'],
    checks: [
      ['正面', LABEL],
      ['评论', FIELD],
      ['很好吃', EXAMPLE_TEXT],
      ['作者_2', FIELD],
      ['小明', EXAMPLE_TEXT],
    ],
  },
  {
    name: 'text after verbalizer: is flagged',
    lines: ['verbalizer: positive: great', '  negative: bad'],
    checks: [
      ['positive: great', 'invalid.illegal.unexpected-text.cloze'],
      ['negative', LABEL],
    ],
  },
  {
    name: 'keyword prefixes are not keywords',
    lines: ['patterns: {x} [MASK]', 'examples positive: text', 'modelling: x'],
    checks: [
      ['patterns', '!keyword'],
      ['[MASK]', `!${MASK}`],
      ['examples', '!keyword'],
      ['positive', `!${LABEL}`],
      ['modelling', '!keyword'],
    ],
  },
  {
    name: 'v2: pattern and verbalizer headers with a name and options',
    lines: [
      'pattern p1 verbalizer=yahoo: {q|drop-punct|lower-first} [SEP+] [MASK]',
      'verbalizer yahoo aggregate=mean-logit space=before multi-token=first:',
      '  Society: " Society", "Culture", Family',
    ],
    checks: [
      ['p1', 'entity.name.function.pattern.cloze'],
      ['verbalizer', 'entity.other.attribute-name.option.cloze', 0],
      ['=', 'keyword.operator.assignment.cloze', 0],
      ['yahoo', 'entity.name.type.verbalizer.cloze', 0],
      ['q', 'variable.parameter.placeholder.name.cloze'],
      ['drop-punct', 'support.function.transform.cloze'],
      ['lower-first', 'support.function.transform.cloze'],
      ['[MASK]', MASK],
      ['[SEP+]', SPECIAL],
      ['verbalizer', 'keyword.other.verbalizer.cloze', 1],
      ['yahoo', 'entity.name.type.verbalizer.cloze', 1],
      ['aggregate', 'entity.other.attribute-name.option.cloze'],
      ['mean-logit', 'constant.language.option-value.cloze'],
      ['before', 'constant.language.option-value.cloze'],
      ['multi-token', 'entity.other.attribute-name.option.cloze'],
      ['first', 'constant.language.option-value.cloze', 1],
      ['Society', LABEL],
      ['" Society"', 'string.quoted.double.label-word.cloze'],
      ['"Culture"', 'string.quoted.double.label-word.cloze'],
      ['Family', LABEL_WORD],
    ],
  },
  {
    name: 'v2: a kept space, unknown transforms and option values are flagged',
    lines: ['pattern colour=red: \\ {q|shout} [MASK]', 'verbalizer aggregate=median:', '  a: b'],
    checks: [
      ['colour=red', 'invalid.illegal.option.cloze'],
      ['\\ ', ESCAPE],
      ['|shout', 'invalid.illegal.transform.cloze'],
      ['aggregate=median', 'invalid.illegal.option.cloze'],
      ['[MASK]', MASK],
    ],
  },
  {
    name: 'full NLI document from the design brief',
    lines: [
      'model: Xenova/roberta-base',
      'pattern: {premise}? [MASK], {hypothesis}',
      'verbalizer:',
      '  entailment: Yes',
      '  neutral: Maybe',
      '  contradiction: No',
      'example entailment:',
      '  premise: A man is playing a guitar on stage.',
      '  hypothesis: A person is making music.',
    ],
    checks: [
      ['Xenova/roberta-base', 'string.unquoted.model.cloze'],
      ['[MASK]', MASK],
      ['entailment', LABEL, 0],
      ['Yes', LABEL_WORD],
      ['Maybe', LABEL_WORD],
      ['contradiction', LABEL],
      ['No', LABEL_WORD],
      ['entailment', LABEL, 1],
      ['premise', FIELD, 1],
      ['hypothesis', FIELD, 1],
      ['A person is making music.', EXAMPLE_TEXT],
    ],
  },
];

// ---------------------------------------------------------------------------------------------

let grammarPromise: Promise<vsctm.IGrammar> | undefined;

function loadGrammar(): Promise<vsctm.IGrammar> {
  grammarPromise ??= (async () => {
    const wasm = fs.readFileSync(wasmPath);
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    const registry = new vsctm.Registry({
      onigLib: Promise.resolve({
        createOnigScanner: (sources: string[]) => new oniguruma.OnigScanner(sources),
        createOnigString: (text: string) => new oniguruma.OnigString(text),
      }),
      loadGrammar: async (scopeName: string) =>
        scopeName === 'source.cloze' ? vsctm.parseRawGrammar(fs.readFileSync(grammarPath, 'utf8'), grammarPath) : null,
    });
    const grammar = await registry.loadGrammar('source.cloze');
    assert.ok(grammar, 'grammar source.cloze did not load');
    return grammar;
  })();
  return grammarPromise;
}

function tokenize(grammar: vsctm.IGrammar, lines: readonly string[]): vsctm.IToken[][] {
  let stack = vsctm.INITIAL;
  return lines.map((line) => {
    const result = grammar.tokenizeLine(line, stack);
    stack = result.ruleStack;
    return result.tokens;
  });
}

/** TextMate selector semantics for one scope: `a.b` matches `a.b` and `a.b.c`, not `a.bc`. */
function scopeMatches(actual: string, expected: string): boolean {
  return actual === expected || actual.startsWith(`${expected}.`);
}

function locate(lines: readonly string[], needle: string, occurrence: number): { line: number; start: number } {
  let seen = 0;
  for (let line = 0; line < lines.length; line++) {
    let from = 0;
    for (;;) {
      const start = lines[line]!.indexOf(needle, from);
      if (start < 0) break;
      if (seen === occurrence) return { line, start };
      seen++;
      from = start + 1;
    }
  }
  throw new Error(`test table error: occurrence ${occurrence} of ${JSON.stringify(needle)} not found`);
}

function describeLine(line: string, tokens: readonly vsctm.IToken[]): string {
  return tokens.map((t) => `    ${JSON.stringify(line.slice(t.startIndex, t.endIndex))} ${t.scopes.join(' ')}`).join('\n');
}

for (const c of cases) {
  test(`grammar: ${c.name}`, async () => {
    const grammar = await loadGrammar();
    const tokens = tokenize(grammar, c.lines);
    for (const [needle, spec, occurrence = 0] of c.checks) {
      const negated = spec.startsWith('!');
      const scope = negated ? spec.slice(1) : spec;
      const { line, start } = locate(c.lines, needle, occurrence);
      const end = start + needle.length;
      const covering = tokens[line]!.filter((t) => t.startIndex < end && t.endIndex > start);
      assert.ok(covering.length > 0, `no token covers ${JSON.stringify(needle)}`);
      const bad = covering.filter((t) => t.scopes.some((s) => scopeMatches(s, scope)) === negated);
      assert.equal(
        bad.length,
        0,
        `${JSON.stringify(needle)} (occurrence ${occurrence}, line ${line + 1}) should ${negated ? 'not ' : ''}` +
          `have scope ${scope}; tokens of the line:\n${describeLine(c.lines[line]!, tokens[line]!)}`,
      );
    }
    const expectsInvalid = c.checks.some(([, spec]) => !spec.startsWith('!') && scopeMatches(spec, 'invalid'));
    if (!expectsInvalid) {
      c.lines.forEach((text, line) => {
        const invalid = tokens[line]!.filter((t) => t.scopes.some((s) => scopeMatches(s, 'invalid')));
        assert.equal(invalid.length, 0, `line ${line + 1} has unexpected invalid tokens:\n${describeLine(text, tokens[line]!)}`);
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Structure of the grammar file itself.

interface RawRule {
  [key: string]: unknown;
}

function walkRules(node: unknown, visit: (rule: RawRule) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) walkRules(item, visit);
  } else if (node !== null && typeof node === 'object') {
    visit(node as RawRule);
    for (const value of Object.values(node)) walkRules(value, visit);
  }
}

test('grammar file: scope name, includes resolve, scopes end in .cloze, regexes compile', async () => {
  await loadGrammar(); // loads the WASM
  const raw = JSON.parse(fs.readFileSync(grammarPath, 'utf8')) as {
    scopeName: string;
    repository: Record<string, unknown>;
  };
  assert.equal(raw.scopeName, 'source.cloze');
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    contributes?: { grammars?: { scopeName: string; path: string }[] };
  };
  const contributed = pkg.contributes?.grammars?.find((g) => g.scopeName === 'source.cloze');
  assert.ok(contributed, 'package.json contributes no source.cloze grammar');
  assert.equal(path.resolve(root, contributed.path), grammarPath);

  const problems: string[] = [];
  walkRules(raw, (rule) => {
    const include = rule['include'];
    if (typeof include === 'string' && include.startsWith('#') && !(include.slice(1) in raw.repository)) {
      problems.push(`unresolved include ${include}`);
    }
    for (const key of ['name', 'contentName']) {
      const value = rule[key];
      // `name` is also the grammar's display name at the top level.
      if (typeof value === 'string' && rule !== (raw as unknown)) {
        for (const scope of value.split(/\s+/)) {
          if (!scope.endsWith('.cloze')) problems.push(`scope ${scope} does not end in .cloze`);
        }
      }
    }
    for (const key of ['match', 'begin', 'end', 'while']) {
      const source = rule[key];
      if (typeof source === 'string') {
        try {
          new oniguruma.OnigScanner([source]).dispose();
        } catch (error) {
          problems.push(`${key} ${JSON.stringify(source)} does not compile: ${String(error)}`);
        }
      }
    }
  });
  assert.deepEqual(problems, []);
});

// ---------------------------------------------------------------------------------------------
// language-configuration.json

interface LanguageConfiguration {
  comments: { lineComment: string };
  brackets: [string, string][];
  autoClosingPairs: { open: string; close: string }[];
  surroundingPairs: [string, string][];
  onEnterRules: { beforeText: string; action: { indent: string } }[];
}

test('language configuration: comments, brackets, pairs', () => {
  const config = JSON.parse(fs.readFileSync(languageConfigurationPath, 'utf8')) as LanguageConfiguration;
  assert.equal(config.comments.lineComment, '#');
  assert.deepEqual(config.brackets, [
    ['{', '}'],
    ['[', ']'],
  ]);
  assert.deepEqual(
    config.autoClosingPairs.map((p) => [p.open, p.close]),
    [
      ['{', '}'],
      ['[', ']'],
    ],
  );
  assert.deepEqual(config.surroundingPairs, [
    ['{', '}'],
    ['[', ']'],
  ]);
});

test('language configuration: Enter indents after verbalizer: and a bare example header only', () => {
  const config = JSON.parse(fs.readFileSync(languageConfigurationPath, 'utf8')) as LanguageConfiguration;
  const indents = (line: string): boolean =>
    config.onEnterRules.some((r) => r.action.indent === 'indent' && new RegExp(r.beforeText).test(line));
  const table: [string, boolean][] = [
    ['verbalizer:', true],
    ['verbalizer:   ', true],
    ['example entailment:', true],
    ['example 正面:', true],
    ['example ?:', true],
    ['example:', true],
    ['example positive: I liked it.', false],
    ['pattern: {x} It was [MASK].', false],
    ['model: Xenova/bert-base-uncased', false],
    ['  positive: great, good', false],
    ['  premise:', false],
    ['# verbalizer:', false],
    ['verbalizers:', false],
    ['  verbalizer:', false],
    ['  example positive:', false],
  ];
  for (const [line, expected] of table) {
    assert.equal(indents(line), expected, `Enter after ${JSON.stringify(line)}`);
  }
});
