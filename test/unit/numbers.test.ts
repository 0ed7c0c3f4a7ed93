// Numbers against an independent computation, for every tiny model: each model's fp32 ONNX file is
// run directly with onnxruntime-node on ids built from the tokenizer's pieces and the model's own
// [CLS]/[SEP] ids, and the softmax, s(L), P(L | x), the content-free prior P₀, P̂ and the ensembles
// are computed here again. First the engine (p(w | x), ranks, top tokens, padded batches, the
// cache), then computePreview on whole documents, where label words must be scored in the token
// form of their mask context (RoBERTa `Ġgreat` after a space, `great` at the start). The trained
// review-bert-small (and long inputs) are in reviewBert.test.ts.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from '../../server/src/language/parse';
import type { TokenizerView } from '../../server/src/language/tokenizer';
import type { MaskScores } from '../../server/src/language/scores';
import { computePreview, type PreviewResult } from '../../server/src/service/preview';
import { directDistribution, directRank, engineFor, freshEngine, modelFile } from '../support/directOnnx';
import { loadTokenizer } from '../support/service';

interface ModelCase {
  readonly model: string;
  /** The ids the tokenizer puts around a text, from SOURCES.md. */
  readonly cls: number;
  readonly sep: number;
  readonly maskId: number;
  /** Texts with `[MASK]` where the model's mask token goes; of different lengths, so batches pad. */
  readonly texts: readonly string[];
  /** Label-word tokens and their ids as SOURCES.md lists them. */
  readonly words: Readonly<Record<string, number>>;
}

const cases: readonly ModelCase[] = [
  {
    model: 'tiny-random-bert-uncased',
    cls: 101,
    sep: 102,
    maskId: 103,
    texts: [
      'I like the Disney films very much. It was [MASK].',
      'Just [MASK]!',
      'The plot was dull and the acting was worse. All in all, it was [MASK].',
    ],
    words: { great: 2307, good: 2204, fantastic: 10392 },
  },
  {
    model: 'tiny-random-bert-cased',
    cls: 101,
    sep: 102,
    maskId: 103,
    texts: ['I like the Disney films very much. It was [MASK].', 'Great? [MASK]', 'A café. It was [MASK].'],
    words: { great: 1632, Great: 2038, terrible: 6434, fantastic: 14820 },
  },
  {
    model: 'tiny-random-roberta',
    cls: 0,
    sep: 2,
    maskId: 50264,
    texts: ['I like the Disney films very much. It was [MASK].', '[MASK]! Hello world', 'It was [MASK].'],
    // After a space the mask is `Ġgreat`; at the start of the text it is `great`.
    words: { Ġgreat: 372, great: 12338, ĠGreat: 2860, Ġfantastic: 5500 },
  },
  {
    model: 'tiny-random-bert-chinese',
    cls: 101,
    sep: 102,
    maskId: 103,
    texts: ['这部电影很[MASK]。', '带女朋友去了一家餐厅,她吃的很开心这家餐厅太[MASK]了!', '[MASK]'],
    words: { 好: 1962, 差: 2345, 棒: 3472 },
  },
];

/** Relative closeness: the engine and the direct run start from the same float32 logits. */
function assertNear(actual: number, expected: number, what: string, relative = 1e-5): void {
  assert.ok(Math.abs(actual - expected) <= relative * Math.abs(expected) + 1e-12, `${what}: ${actual} ≠ ${expected}`);
}

function handIds(tokenizer: TokenizerView, c: ModelCase, text: string): number[] {
  return [c.cls, ...tokenizer.tokenize(text).map((piece) => piece.id), c.sep];
}

function withMask(tokenizer: TokenizerView, text: string): string {
  return text.replace('[MASK]', tokenizer.special.mask);
}

for (const c of cases) {
  describe(`engine on ${c.model} (fp32) against onnxruntime directly`, () => {
    test('the label words are the tokens SOURCES.md lists', async () => {
      const tokenizer = await loadTokenizer(c.model);
      for (const [token, id] of Object.entries(c.words)) assert.equal(tokenizer.tokenId(token), id, token);
      assert.equal(tokenizer.maskTokenId, c.maskId);
    });

    test('p(w | x), ranks and the top tokens equal the direct softmax', async () => {
      const tokenizer = await loadTokenizer(c.model);
      const engine = await engineFor(c.model, { quantized: false });
      const inputs = c.texts.map((text) => withMask(tokenizer, text));
      const wordIds = Object.values(c.words);
      const scores = await engine.score(inputs, wordIds, 5);
      for (const [i, input] of inputs.entries()) {
        const ids = handIds(tokenizer, c, input);
        assert.deepEqual(engine.encode(input), ids, `ids of ${input}`);
        const direct = await directDistribution(modelFile(c.model), ids, ids.indexOf(c.maskId));
        const result = scores[i];
        assert.equal(result.maskFound, true);
        assert.equal(result.truncated, false);
        result.words.forEach((word, w) => {
          assert.equal(word.tokenId, wordIds[w]);
          assertNear(word.p, direct[word.tokenId], `p(${word.tokenId} | ${input})`);
          assert.equal(word.rank, directRank(direct, word.tokenId), `rank of ${word.tokenId} in ${input}`);
        });
        const expectedTop = [...direct.keys()].sort((a, b) => direct[b] - direct[a] || a - b).slice(0, 5);
        assert.deepEqual(
          result.top.map((token) => token.tokenId),
          expectedTop,
          `top of ${input}`,
        );
        result.top.forEach((token) => {
          assertNear(token.p, direct[token.tokenId], `top p(${token.token})`);
          assert.equal(tokenizer.tokenId(token.token), token.tokenId);
        });
        // The whole distribution sums to 1, so the softmax ran over the full vocabulary.
        assertNear(
          direct.reduce((sum, p) => sum + p, 0),
          1,
          'Σ p',
        );
      }
    });

    test('batched scoring equals one input at a time', async () => {
      const tokenizer = await loadTokenizer(c.model);
      const engine = await engineFor(c.model, { quantized: false });
      const inputs = c.texts.map((text) => withMask(tokenizer, text));
      const wordIds = Object.values(c.words);
      engine.clearCache();
      const single: MaskScores[] = [];
      for (const input of inputs) single.push(...(await engine.score([input], wordIds, 5)));
      engine.clearCache();
      const before = engine.stats().batches;
      const batched = await engine.score(inputs, wordIds, 5);
      assert.equal(engine.stats().batches - before, 1, 'the inputs, of different lengths, ran as one padded batch');
      for (const [i, input] of inputs.entries()) {
        batched[i].words.forEach((word, w) => assertNear(word.p, single[i].words[w].p, `p(${word.tokenId} | ${input}) batched`));
        assert.deepEqual(
          batched[i].words.map((word) => word.rank),
          single[i].words.map((word) => word.rank),
        );
      }
    });
  });
}

describe('the logits cache', () => {
  const model = 'tiny-random-bert-uncased';
  const texts = ['It was [MASK].', 'Just [MASK]!', 'I like it. It was [MASK].'];
  /** One engine with a cache of its own for the whole suite; the counters are read as differences. */
  const cached = freshEngine(model, { quantized: false });
  const delta = async <T>(run: () => Promise<T>): Promise<{ result: T; computed: number; fromCache: number }> => {
    const engine = await cached;
    const before = engine.stats();
    const result = await run();
    return {
      result,
      computed: engine.stats().computedPairs - before.computedPairs,
      fromCache: engine.stats().cachedPairs - before.cachedPairs,
    };
  };

  test('re-scoring unchanged inputs runs nothing and returns the same numbers', async () => {
    const engine = await cached;
    const first = await delta(() => engine.score(texts.slice(0, 2), [2307, 2204], 3));
    assert.deepEqual([first.computed, first.fromCache], [2, 0]);
    const second = await delta(() => engine.score(texts, [2307, 2204], 3));
    assert.deepEqual([second.computed, second.fromCache], [1, 2], 'only the new input ran');
    assert.deepEqual(second.result.slice(0, 2), first.result);
    // Computed afresh by another engine whose cache is emptied first.
    const other = await engineFor(model, { quantized: false });
    other.clearCache();
    assert.deepEqual(second.result, await other.score(texts, [2307, 2204], 3));
  });

  test('other label words and top-k are answered from the cached logits', async () => {
    const engine = await cached;
    const again = await delta((): Promise<MaskScores[]> => engine.score(texts, [2204, 10392], 7));
    assert.deepEqual([again.computed, again.fromCache], [0, texts.length]);
    assert.deepEqual(
      again.result.map((scores) => [scores.words.length, scores.top.length]),
      texts.map(() => [2, 7]),
    );
  });

  test('a repeated input runs once', async () => {
    const engine = await cached;
    const repeated = await delta(() => engine.score(['Once more, [MASK].', 'Once more, [MASK].'], [2307], 2));
    assert.deepEqual(repeated.result[0], repeated.result[1]);
    assert.deepEqual([repeated.computed, repeated.fromCache], [1, 1]);
  });

  test('a small cache evicts the least recently used input', async () => {
    // One BERT row is 30522 floats; room for about two.
    const engine = await freshEngine(model, { quantized: false, cacheBytes: 2.5 * 30522 * 4 });
    for (const text of texts) await engine.score([text], [2307], 1);
    assert.equal(engine.stats().cacheEntries, 2);
    await engine.score([texts[0]], [2307], 1);
    assert.equal(engine.stats().computedPairs, 4, 'the oldest input was evicted and ran again');
  });
});

type Fields = Readonly<Record<string, string>>;

interface PreviewCase {
  readonly name: string;
  readonly model: string;
  readonly cls: number;
  readonly sep: number;
  readonly source: string;
  /** Each previewed pattern: its display name, the input it makes (MASK = the model's mask token), whether a space precedes the mask. */
  readonly patterns: ReadonlyArray<{
    readonly name: string;
    readonly input: (f: Fields, mask: string) => string;
    readonly afterSpace: boolean;
  }>;
  readonly labels: Readonly<Record<string, readonly string[]>>;
  readonly examples: ReadonlyArray<{ readonly label: string | null; readonly fields: Fields }>;
  /** Tokens the label words must be scored as, per pattern (spot checks from SOURCES.md). */
  readonly tokens: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** `label word` pairs that must be skipped, with the patterns they are skipped in. */
  readonly skipped: ReadonlyArray<{ readonly word: string; readonly patterns: readonly string[] }>;
  readonly excluded: readonly string[];
}

const sentiment = (model: string, words: Record<string, string[]>): string =>
  [
    `model: ${model}`,
    'pattern short: {review} It was [MASK].',
    'pattern lead: [MASK]! {review}',
    'pattern broken: {review} no mask here',
    'verbalizer:',
    ...Object.entries(words).map(([label, list]) => `  ${label}: ${list.join(', ')}`),
    'example positive: I like the Disney films very much.',
    'example negative: The plot was dull.',
    'example: The soundtrack had its moments.',
  ].join('\n');

const sentimentPatterns = [
  { name: 'short', input: (f: Fields, mask: string) => `${f['review'] ?? ''} It was ${mask}.`.trim(), afterSpace: true },
  { name: 'lead', input: (f: Fields, mask: string) => `${mask}! ${f['review'] ?? ''}`.trim(), afterSpace: false },
];
const sentimentExamples = [
  { label: 'positive', fields: { review: 'I like the Disney films very much.' } },
  { label: 'negative', fields: { review: 'The plot was dull.' } },
  { label: null, fields: { review: 'The soundtrack had its moments.' } },
];

const previewCases: readonly PreviewCase[] = [
  {
    name: 'uncased BERT: casing folds into one token, counted once',
    model: 'tiny-random-bert-uncased',
    cls: 101,
    sep: 102,
    // `Great` is the same token as `great` here: it must not count twice.
    source: sentiment('tiny-random-bert-uncased', { positive: ['great', 'Great', 'Good'], negative: ['terrible', 'bad'] }),
    patterns: sentimentPatterns,
    labels: { positive: ['great', 'Great', 'Good'], negative: ['terrible', 'bad'] },
    examples: sentimentExamples,
    tokens: { short: { great: 'great', Good: 'good' } },
    skipped: [],
    excluded: ['broken'],
  },
  {
    name: 'cased BERT: a multi-token word is skipped',
    model: 'tiny-random-bert-cased',
    cls: 101,
    sep: 102,
    source: sentiment('tiny-random-bert-cased', { positive: ['great', 'Great'], negative: ['terrible', 'Terrible'] }),
    patterns: sentimentPatterns,
    labels: { positive: ['great', 'Great'], negative: ['terrible', 'Terrible'] },
    examples: sentimentExamples,
    tokens: { short: { great: 'great', Great: 'Great' } },
    skipped: [{ word: 'Terrible', patterns: ['short', 'lead'] }],
    excluded: ['broken'],
  },
  {
    name: 'RoBERTa: the mask context picks Ġgreat or great',
    model: 'tiny-random-roberta',
    cls: 0,
    sep: 2,
    source: sentiment('tiny-random-roberta', { positive: ['great', 'good'], negative: ['terrible', 'bad'] }),
    patterns: sentimentPatterns,
    labels: { positive: ['great', 'good'], negative: ['terrible', 'bad'] },
    examples: sentimentExamples,
    tokens: { short: { great: 'Ġgreat', terrible: 'Ġterrible' }, lead: { great: 'great', bad: 'bad' } },
    // `terrible` without a space is `ter rible`: skipped where the mask starts the text only.
    skipped: [{ word: 'terrible', patterns: ['lead'] }],
    excluded: ['broken'],
  },
  {
    name: 'RoBERTa with two fields and three labels',
    model: 'tiny-random-roberta',
    cls: 0,
    sep: 2,
    source: [
      'model: tiny-random-roberta',
      'pattern: {premise}? [MASK], {hypothesis}',
      'verbalizer:',
      '  entailment: Yes',
      '  neutral: Maybe',
      '  contradiction: No',
      'example entailment:',
      '  premise: A man is playing a guitar on stage.',
      '  hypothesis: A person is making music.',
      'example contradiction:',
      '  premise: A woman is sleeping.',
      '  hypothesis: The woman is running a marathon.',
    ].join('\n'),
    patterns: [
      { name: 'pattern 1', input: (f, mask) => `${f['premise'] ?? ''}? ${mask}, ${f['hypothesis'] ?? ''}`.trim(), afterSpace: true },
    ],
    labels: { entailment: ['Yes'], neutral: ['Maybe'], contradiction: ['No'] },
    examples: [
      { label: 'entailment', fields: { premise: 'A man is playing a guitar on stage.', hypothesis: 'A person is making music.' } },
      { label: 'contradiction', fields: { premise: 'A woman is sleeping.', hypothesis: 'The woman is running a marathon.' } },
    ],
    tokens: { 'pattern 1': { Yes: 'ĠYes', No: 'ĠNo' } },
    skipped: [],
    excluded: [],
  },
  {
    name: 'Chinese BERT: characters, unnamed patterns',
    model: 'tiny-random-bert-chinese',
    cls: 101,
    sep: 102,
    source: [
      'model: tiny-random-bert-chinese',
      'pattern: {评论}这家餐厅太[MASK]了!',
      'pattern: [MASK]。{评论}',
      'verbalizer:',
      '  正面: 好, 棒',
      '  负面: 差',
      'example 正面: 带女朋友去了一家餐厅,她吃的很开心',
      'example 负面: 服务员态度很差,菜也凉了',
    ].join('\n'),
    patterns: [
      { name: 'pattern 1', input: (f, mask) => `${f['评论'] ?? ''}这家餐厅太${mask}了!`, afterSpace: false },
      { name: 'pattern 2', input: (f, mask) => `${mask}。${f['评论'] ?? ''}`, afterSpace: false },
    ],
    labels: { 正面: ['好', '棒'], 负面: ['差'] },
    examples: [
      { label: '正面', fields: { 评论: '带女朋友去了一家餐厅,她吃的很开心' } },
      { label: '负面', fields: { 评论: '服务员态度很差,菜也凉了' } },
    ],
    tokens: { 'pattern 1': { 好: '好', 差: '差' } },
    skipped: [],
    excluded: [],
  },
];

const close = (actual: number | undefined, expected: number, what: string, tolerance = 1e-5): void => {
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tolerance, `${what}: ${actual} ≠ ${expected}`);
};

const normalized = (weights: number[]): number[] => {
  const total = weights.reduce((a, b) => a + b, 0);
  return weights.map((w) => w / total);
};

/** The single token of a word in a mask context, found with the tokenizer alone; undefined when it is several. */
function wordToken(tokenizer: TokenizerView, word: string, afterSpace: boolean): { id: number; token: string } | undefined {
  const pieces = tokenizer.tokenize(afterSpace ? ` ${word}` : word);
  return pieces.length === 1 && pieces[0].id !== tokenizer.unkTokenId ? { id: pieces[0].id, token: pieces[0].token } : undefined;
}

for (const c of previewCases) {
  describe(`preview numbers: ${c.name}`, () => {
    let result: PreviewResult;
    let tokenizer: TokenizerView;

    test('computePreview runs in one scorer call', async () => {
      tokenizer = await loadTokenizer(c.model);
      const engine = await engineFor(c.model, { quantized: false });
      let calls = 0;
      result = await computePreview(
        parse(c.source),
        tokenizer,
        (inputs, ids, k) => {
          calls++;
          return engine.score(inputs, ids, k);
        },
        { topK: 4, calibrate: true },
      );
      assert.equal(calls, 1);
      assert.equal(result.model, c.model);
      assert.deepEqual(
        result.patterns,
        c.patterns.map((p) => p.name),
      );
      assert.deepEqual(result.labels, Object.keys(c.labels));
      assert.deepEqual(
        result.excluded.map((e) => e.pattern),
        c.excluded,
      );
      assert.deepEqual(
        result.skippedWords.map((s) => ({ word: s.word, patterns: s.patterns })),
        c.skipped,
      );
    });

    test('P, P₀, P̂ and the ensembles equal the direct computation', async () => {
      const mask = tokenizer.special.mask;
      const labels = Object.keys(c.labels);
      const distributionOf = async (input: string): Promise<Float64Array> => {
        const ids = [c.cls, ...tokenizer.tokenize(input).map((piece) => piece.id), c.sep];
        return directDistribution(modelFile(c.model), ids, ids.indexOf(tokenizer.maskTokenId));
      };
      /** P(L | x) for one pattern, label words in the pattern's context, each token once per label. */
      const labelProbabilities = (dist: Float64Array, afterSpace: boolean): number[] =>
        normalized(
          labels.map((label) => {
            const ids = new Set(c.labels[label].flatMap((word) => wordToken(tokenizer, word, afterSpace)?.id ?? []));
            return [...ids].reduce((sum, id) => sum + dist[id], 0);
          }),
        );

      const priors = await Promise.all(
        c.patterns.map(async (p) => labelProbabilities(await distributionOf(p.input({}, mask)), p.afterSpace)),
      );
      c.patterns.forEach((p, i) => {
        assert.equal(result.contentFree[p.name], p.input({}, mask));
        labels.forEach((label, l) => close(result.priors[p.name][label], priors[i][l], `P₀(${label}) of ${p.name}`));
      });

      const lines = c.source.split('\n').flatMap((line, i) => (line.startsWith('example') ? [i + 1] : []));
      for (const [e, example] of c.examples.entries()) {
        const preview = result.examples[e];
        assert.equal(preview.line, lines[e]);
        assert.equal(preview.label, example.label);
        assert.deepEqual(preview.fields, example.fields);
        const raw: number[][] = [];
        const calibrated: number[][] = [];
        for (const [i, p] of c.patterns.entries()) {
          const input = p.input(example.fields, mask);
          const dist = await distributionOf(input);
          const P = labelProbabilities(dist, p.afterSpace);
          const Phat = normalized(P.map((value, l) => value / priors[i][l]));
          raw.push(P);
          calibrated.push(Phat);
          const r = preview.results[i];
          assert.equal(r.pattern, p.name);
          assert.equal(r.input, input);
          assert.equal(r.maskToken, mask);
          labels.forEach((label, l) => {
            close(r.labels[label], P[l], `P(${label} | ${input})`);
            close(r.calibrated[label], Phat[l], `P̂(${label} | ${input})`);
          });
          for (const word of r.labelWords) {
            const expected = wordToken(tokenizer, word.word, p.afterSpace);
            assert.ok(expected, `${word.word} is scored although it is not one token`);
            assert.equal(word.tokenId, expected.id);
            assert.equal(word.token, expected.token);
            close(word.p, dist[word.tokenId], `p(${word.token})`, 1e-5 * dist[word.tokenId]);
            assert.equal(word.rank, directRank(dist, word.tokenId), `rank of ${word.token}`);
          }
          for (const [word, token] of Object.entries(c.tokens[p.name] ?? {})) {
            assert.equal(r.labelWords.find((w) => w.word === word)?.token, token, `${word} in ${p.name}`);
          }
          assert.equal(r.top.length, 4);
          const best = labels[Phat.indexOf(Math.max(...Phat))];
          assert.equal(r.prediction, best, 'calibrate: true decides by P̂');
          assert.equal(r.correct, example.label === null ? null : best === example.label);
        }
        labels.forEach((label, l) => {
          close(preview.ensemble[label], raw.reduce((sum, P) => sum + P[l], 0) / raw.length, `ensemble P(${label})`);
          close(
            preview.calibratedEnsemble[label],
            calibrated.reduce((sum, P) => sum + P[l], 0) / calibrated.length,
            `ensemble P̂(${label})`,
          );
        });
      }
    });
  });
}
