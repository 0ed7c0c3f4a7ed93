// The numbers of the v2 constructs equal the training frameworks' own definitions. For each model
// family, a document states PVPs the way LM-BFF, PET and OpenPrompt train them (field transforms,
// `space=before`, the three aggregation rules, the three multi-token handlers). Independently of
// Cloze's rendering and scoring, this file builds each framework's input ids the framework's way
// (each part of the template encoded on its own with the real tokenizer, the transform written
// here as the framework's Python does it), runs the fp32 ONNX file directly, and combines the raw
// logits by the framework's formula:
//
// - LM-BFF (`src/models.py`): softmax over the label words' logits, one word per label;
// - PET (`pvp.py`, `_convert_single_mlm_logits_to_cls_logits`): per label the mean of its words'
//   logits, then a softmax over the labels;
// - OpenPrompt (`ManualVerbalizer.process_logits`): the words' logits (a multi-token word's
//   tokens reduced by `handle_multi_token`: first / mean / max), a softmax over all label words,
//   log(q + 1e-15), the mean per label, then a softmax over the labels.
//
// The preview must give the same label probabilities, from the same token ids.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from '../../server/src/language/parse';
import type { TokenizerView } from '../../server/src/language/tokenizer';
import { computePreview, type PreviewResult } from '../../server/src/service/preview';
import { directLogits, engineFor, modelFile } from '../support/directOnnx';
import { loadTokenizer } from '../support/service';

const models = ['tiny-random-bert-uncased', 'tiny-random-bert-cased', 'tiny-random-roberta', 'review-bert-small'] as const;

const reviews = ['I like the Disney films very much!', 'The plot was dull, and the acting was worse.', 'Great soundtrack...'];

const source = (model: string): string =>
  [
    `model: ${model}`,
    // LM-BFF `*cls**sent-_0*_It_was*mask*.*sep+*`
    'pattern lmbff verbalizer=lmbff: {review|drop-last} It was [MASK].',
    // PET, a Yelp-like pattern with `remove_final_punc`; spaces between its parts, as PET encodes RoBERTa parts with a prefix space
    'pattern pet verbalizer=pet: [MASK] : {review|drop-punct}',
    // OpenPrompt ManualTemplate `{"placeholder":"text_a","post_processing":"lambda s: s[0].lower()+s[1:]"} In summary, it was {"mask"}.`
    'pattern first verbalizer=first: {review|lower-first} In summary, it was [MASK].',
    'pattern mean verbalizer=mean: {review|lower-first} In summary, it was [MASK].',
    'pattern max verbalizer=max: {review|lower-first} In summary, it was [MASK].',
    'verbalizer lmbff space=before:',
    '  positive: great',
    '  negative: terrible',
    'verbalizer pet aggregate=mean-logit space=before:',
    '  positive: great, good',
    '  negative: terrible, bad, awful',
    ...(['first', 'mean', 'max'] as const).flatMap((handler) => [
      `verbalizer ${handler} aggregate=mean-logprob space=before multi-token=${handler}:`,
      '  positive: great, fantastically, good',
      '  negative: terrible, unbelievably',
    ]),
    ...reviews.map((review) => `example: ${review}`),
  ].join('\n');

/** Python's `string.punctuation`, as PET's `remove_final_punc` strips it with `rstrip`. */
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const rstripPunctuation = (s: string): string => {
  let end = s.length;
  while (end > 0 && PUNCTUATION.includes(s[end - 1])) end--;
  return s.slice(0, end);
};

interface FrameworkPattern {
  readonly name: string;
  /** The framework's input ids: each part encoded on its own, as the framework does. */
  readonly ids: (review: string, t: Encoder) => number[];
  /** Label words as the framework tokenizes them: ' ' + word (all three frameworks do). */
  readonly words: Readonly<Record<string, readonly string[]>>;
  readonly combine: (logits: Float64Array, words: readonly (readonly (readonly number[])[])[]) => number[];
}

interface Encoder {
  readonly enc: (text: string) => number[];
  readonly cls: number;
  readonly sep: number;
  readonly mask: number;
  /** PET encodes every part of a RoBERTa pattern with `add_prefix_space=True`. */
  readonly prefixSpace: boolean;
}

const softmax = (scores: readonly number[]): number[] => {
  const max = Math.max(...scores);
  const exps = scores.map((s) => Math.exp(s - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
};
const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

const openPrompt =
  (handler: 'first' | 'mean' | 'max') =>
  (logits: Float64Array, words: readonly (readonly (readonly number[])[])[]): number[] => {
    const handled = words.map((label) =>
      label.map((ids) => {
        const tokenLogits = ids.map((id) => logits[id]);
        return handler === 'first' ? tokenLogits[0] : handler === 'max' ? Math.max(...tokenLogits) : mean(tokenLogits);
      }),
    );
    const flat = softmax(handled.flat());
    let at = 0;
    const logProbabilities = handled.map((label) => label.map(() => Math.log(flat[at++] + 1e-15)));
    return softmax(logProbabilities.map(mean));
  };

const frameworkPatterns: readonly FrameworkPattern[] = [
  {
    name: 'lmbff',
    ids: (review, t) => [t.cls, ...t.enc(review.slice(0, -1)), ...t.enc(' It was'), t.mask, ...t.enc('.'), t.sep],
    words: { positive: ['great'], negative: ['terrible'] },
    combine: (logits, words) => softmax(words.map((label) => logits[label[0][0]])),
  },
  {
    name: 'pet',
    ids: (review, t) => {
      const part = (text: string): number[] => t.enc(t.prefixSpace ? ` ${text}` : text);
      return [t.cls, t.mask, ...part(':'), ...part(rstripPunctuation(review)), t.sep];
    },
    words: { positive: ['great', 'good'], negative: ['terrible', 'bad', 'awful'] },
    combine: (logits, words) => softmax(words.map((label) => mean(label.map((ids) => logits[ids[0]])))),
  },
  ...(['first', 'mean', 'max'] as const).map((handler): FrameworkPattern => ({
    name: handler,
    ids: (review, t) => [
      t.cls,
      ...t.enc(review[0].toLowerCase() + review.slice(1)),
      ...t.enc(' In summary, it was'),
      t.mask,
      ...t.enc('.'),
      t.sep,
    ],
    words: { positive: ['great', 'fantastically', 'good'], negative: ['terrible', 'unbelievably'] },
    combine: openPrompt(handler),
  })),
];

function encoder(tokenizer: TokenizerView, model: string): Encoder {
  const id = (token: string | undefined): number => {
    const found = token === undefined ? undefined : tokenizer.tokenId(token);
    assert.ok(found !== undefined, `${token} is a token of ${model}`);
    return found;
  };
  return {
    enc: (text) => tokenizer.tokenize(text).map((piece) => piece.id),
    cls: id(tokenizer.special.cls),
    sep: id(tokenizer.special.sep),
    mask: tokenizer.maskTokenId,
    prefixSpace: model.includes('roberta'),
  };
}

for (const model of models) {
  describe(`framework definitions on ${model}`, () => {
    let result: PreviewResult;
    let tokenizer: TokenizerView;

    test('the preview scores every pattern', async () => {
      tokenizer = await loadTokenizer(model);
      const engine = await engineFor(model, { quantized: false });
      result = await computePreview(parse(source(model)), tokenizer, (inputs, ids, k) => engine.score(inputs, ids, k), {
        topK: 3,
        calibrate: false,
      });
      assert.deepEqual(result.patterns, ['lmbff', 'pet', 'first', 'mean', 'max']);
      assert.deepEqual(result.excluded, []);
      assert.deepEqual(result.skippedWords, [], 'with a multi-token handler no word is skipped');
    });

    for (const framework of frameworkPatterns) {
      test(`${framework.name}: the framework's ids and label probabilities`, async () => {
        const engine = await engineFor(model, { quantized: false });
        const t = encoder(tokenizer, model);
        const labels = Object.keys(framework.words);
        // The framework's label-word ids: ' ' + word, encoded without special tokens.
        const wordIds = labels.map((label) => framework.words[label].map((word) => t.enc(` ${word}`)));
        for (const [e, review] of reviews.entries()) {
          const ids = framework.ids(review, t);
          const r = result.examples[e].results.find((candidate) => candidate.pattern === framework.name);
          assert.ok(r, `a result for ${framework.name}`);
          assert.deepEqual(
            engine.encode(r.input),
            ids,
            `${framework.name}: Cloze's input ${JSON.stringify(r.input)} is the framework's ids`,
          );
          const logits = await directLogits(modelFile(model), ids, ids.indexOf(t.mask));
          const expected = framework.combine(logits, wordIds);
          labels.forEach((label, l) => {
            const actual = r.labels[label];
            assert.ok(Math.abs(actual - expected[l]) <= 1e-6, `${framework.name} P(${label} | ${review}): ${actual} ≠ ${expected[l]}`);
          });
          // The words are scored in the framework's form: ' ' + word, all its tokens for a multi-token word.
          for (const word of r.labelWords) {
            const l = labels.indexOf(word.label);
            const ids = wordIds[l][framework.words[word.label].indexOf(word.word)];
            assert.equal(word.tokenId, ids[0], `${word.word} is scored from its first token ${ids[0]}`);
            assert.equal(word.token.split(' ').length, ids.length, `${word.word}: all its tokens`);
          }
        }
      });
    }

    test('the aggregation rules differ where they should', () => {
      // Sanity check that the rules are not the same function: with two words per label, the sum of
      // probabilities and PET's mean of logits give different numbers on the same logits.
      const first = result.examples[0].results;
      const pet = first.find((r) => r.pattern === 'pet');
      assert.ok(pet && pet.labelWords.length === 5);
      const sum = [0, 1].map((l) => pet.labelWords.filter((w) => w.label === ['positive', 'negative'][l]).reduce((s, w) => s + w.p, 0));
      const bySum = sum[0] / (sum[0] + sum[1]);
      assert.ok(Math.abs(bySum - pet.labels['positive']) > 1e-9, 'mean-logit differs from the sum rule');
    });
  });
}

// Segment B: `[SEP+]` makes the input a pair, encoded by the tokenizer's own pair encoding, as PET's
// two-part patterns (`get_parts` returning parts_a and parts_b) are: BERT `[CLS] A [SEP] B [SEP]` with
// token_type_ids 1 for B, RoBERTa `<s> A </s></s> B </s>`. The ids and segment ids are built here by
// hand from the tokenizer's pieces and special ids, run directly, and the PET label probabilities
// compared with the preview's.
describe('segment B: the pair encoding', () => {
  const pairModels = [
    {
      model: 'tiny-random-bert-uncased',
      pair: (a: number[], b: number[], cls: number, sep: number) => [cls, ...a, sep, ...b, sep],
      types: true,
    },
    {
      model: 'tiny-random-bert-cased',
      pair: (a: number[], b: number[], cls: number, sep: number) => [cls, ...a, sep, ...b, sep],
      types: true,
    },
    { model: 'review-bert-small', pair: (a: number[], b: number[], cls: number, sep: number) => [cls, ...a, sep, ...b, sep], types: true },
    {
      model: 'tiny-random-roberta',
      pair: (a: number[], b: number[], cls: number, sep: number) => [cls, ...a, sep, sep, ...b, sep],
      types: false,
    },
  ];
  const examples = [
    { premise: 'A man is playing a guitar on stage.', hypothesis: 'A person is making music' },
    { premise: 'A woman is sleeping.', hypothesis: 'The woman runs a marathon' },
  ];
  const doc = (model: string): string =>
    [
      `model: ${model}`,
      // PET RTE-like: parts_a = [text_b, '?'], parts_b = [mask, ',', text_a]
      'pattern pet: {hypothesis}? [SEP+] [MASK], {premise}',
      'verbalizer aggregate=mean-logit space=before:',
      '  entailment: yes, right',
      '  contradiction: no',
      ...examples.flatMap((e) => ['example:', `  premise: ${e.premise}`, `  hypothesis: ${e.hypothesis}`]),
    ].join('\n');

  for (const c of pairModels) {
    test(`${c.model}: ids, segment ids and PET's label probabilities`, async () => {
      const tokenizer = await loadTokenizer(c.model);
      const engine = await engineFor(c.model, { quantized: false });
      const t = encoder(tokenizer, c.model);
      const result = await computePreview(parse(doc(c.model)), tokenizer, (inputs, ids, k) => engine.score(inputs, ids, k), {
        topK: 1,
        calibrate: false,
      });
      const words = [['yes', 'right'], ['no']].map((list) => list.map((word) => t.enc(` ${word}`)[0]));
      for (const [e, example] of examples.entries()) {
        const r = result.examples[e].results[0];
        assert.equal(r.input, `${example.hypothesis}?`);
        assert.equal(r.inputB, `${tokenizer.special.mask}, ${example.premise}`);
        const a = t.enc(`${example.hypothesis}?`);
        const b = t.enc(`${tokenizer.special.mask}, ${example.premise}`);
        const ids = c.pair(a, b, t.cls, t.sep);
        const typeIds = ids.map((_, i) => (i <= a.length + 1 ? 0 : 1));
        const encoded = engine.encodeWithTypes(`${r.input}\uE001${r.inputB}`);
        assert.deepEqual(encoded.ids, ids, 'the pair encoding');
        if (c.types) assert.deepEqual(encoded.typeIds, typeIds, 'segment ids 1 for B');
        const logits = await directLogits(modelFile(c.model), ids, ids.indexOf(t.mask), typeIds);
        const expected = softmax(words.map((label) => mean(label.map((id) => logits[id]))));
        ['entailment', 'contradiction'].forEach((label, l) => {
          assert.ok(Math.abs(r.labels[label] - expected[l]) <= 1e-6, `P(${label}): ${r.labels[label]} ≠ ${expected[l]}`);
        });
        if (c.types) {
          // The segment ids reach the model: with all of them 0 the numbers differ.
          const flat = await directLogits(modelFile(c.model), ids, ids.indexOf(t.mask));
          const without = softmax(words.map((label) => mean(label.map((id) => flat[id]))));
          assert.ok(Math.abs(without[0] - expected[0]) > 1e-9, 'token_type_ids change the logits');
        }
      }
    });
  }
});

// Truncation per field: inputs longer than the model reads (512 tokens), cut by the pattern's
// `shorten=` fields and `truncate=` strategy. The frameworks' cuts are written again here on their
// own encodings — OpenPrompt's truncate_from_tail / truncate_from_head / balanced_truncate on the
// template's parts, PET's `truncate` (the longer side loses its last token) on a two-part pattern,
// LM-BFF's `truncate_head` — and the engine's ids and the label probabilities must be theirs. The
// texts are whole words (the cut fields are decoded back to text and re-encoded, exact at word
// boundaries; docs/language.md §10).
describe('truncation per field', () => {
  const a = 'the cat sat on the mat . '.repeat(45).trim();
  const b = 'a dog ran in the park today . '.repeat(41).trim();
  const MAX = 512;
  const probabilities = (logits: Float64Array, ids: readonly number[]): number[] => {
    const p = softmax(ids.map((id) => logits[id]));
    return p;
  };

  interface TruncationCase {
    readonly name: string;
    readonly models: readonly string[];
    readonly header: string;
    readonly text: string;
    /** The framework's ids for the example. */
    readonly ids: (t: Encoder, model: string) => { ids: number[]; typeIds?: number[] };
  }

  /** OpenPrompt's wrapper: parts encoded on their own (a space before a piece that follows one), shortenable ones cut, then [CLS] … [SEP]. */
  const openPrompt = (order: 'tail' | 'head' | 'balanced') => (t: Encoder) => {
    const parts = [t.enc(a), t.enc(` ${b}`), t.enc(' It was'), [t.mask], t.enc('.')];
    const shortenable = [true, true, false, false, false];
    let excess = parts.reduce((n, p) => n + p.length, 0) + 2 - MAX;
    if (order === 'balanced') {
      const lengths = parts.map((p, i) => (shortenable[i] ? p.length : 0));
      const total = lengths.reduce((x, y) => x + y, 0);
      let s = 0;
      const each = lengths.map((length) => {
        const share = Math.ceil((length / total) * excess);
        if (s > excess) return 0;
        s += share;
        return s <= excess ? share : share - (s - excess);
      });
      parts.forEach((part, i) => (parts[i] = part.slice(0, part.length - each[i])));
    } else {
      const indices = order === 'tail' ? [4, 3, 2, 1, 0] : [0, 1, 2, 3, 4];
      for (const i of indices) {
        if (!shortenable[i] || parts[i].length === 0 || excess <= 0) continue;
        const length = parts[i].length;
        parts[i] = excess < length ? parts[i].slice(0, -excess) : [];
        excess -= length;
      }
    }
    return { ids: [t.cls, ...parts.flat(), t.sep] };
  };

  const cases: readonly TruncationCase[] = [
    {
      name: 'OpenPrompt tail',
      models: ['tiny-random-bert-uncased', 'tiny-random-roberta'],
      header: 'shorten=text_b,text_a truncate=tail',
      text: '{text_a} {text_b} It was [MASK].',
      ids: openPrompt('tail'),
    },
    {
      name: 'OpenPrompt head',
      models: ['tiny-random-bert-uncased', 'tiny-random-roberta'],
      header: 'shorten=text_a,text_b truncate=tail',
      text: '{text_a} {text_b} It was [MASK].',
      ids: openPrompt('head'),
    },
    {
      name: 'OpenPrompt balanced',
      models: ['tiny-random-bert-uncased', 'tiny-random-roberta'],
      header: 'shorten=text_a,text_b truncate=balanced',
      text: '{text_a} {text_b} It was [MASK].',
      ids: openPrompt('balanced'),
    },
    {
      // LM-BFF `*cls**sent_0*_It_was*mask*.*sep+*` with truncate_head: the start of the input goes.
      name: 'LM-BFF truncate_head',
      models: ['tiny-random-bert-uncased', 'tiny-random-roberta'],
      header: 'shorten=text_a truncate=head',
      text: '{text_a} {text_b} It was [MASK].',
      ids: (t) => {
        const ids = [t.cls, ...t.enc(a), ...t.enc(` ${b}`), ...t.enc(' It was'), t.mask, ...t.enc('.'), t.sep];
        return { ids: [ids[0], ...ids.slice(ids.length - MAX + 1)] };
      },
    },
    {
      // PET: parts_a = [text_a], parts_b = [text_b, 'It was', mask, '.']; while too long the side
      // with more shortenable tokens loses its last one (b on a tie); then the pair encoding.
      name: 'PET longest',
      models: ['tiny-random-bert-uncased', 'tiny-random-bert-cased'],
      header: 'shorten=text_a,text_b truncate=longest',
      text: '{text_a} [SEP+] {text_b} It was [MASK].',
      ids: (t) => {
        let sideA = t.enc(a);
        let sideB = t.enc(b);
        const rest = [...t.enc('It was'), t.mask, ...t.enc('.')];
        const remove = sideA.length + sideB.length + rest.length + 3 - MAX;
        for (let n = 0; n < remove; n++) {
          if (sideA.length > sideB.length) sideA = sideA.slice(0, -1);
          else sideB = sideB.slice(0, -1);
        }
        const first = [t.cls, ...sideA, t.sep];
        const second = [...sideB, ...rest, t.sep];
        return { ids: [...first, ...second], typeIds: [...first.map(() => 0), ...second.map(() => 1)] };
      },
    },
  ];

  for (const c of cases) {
    for (const model of c.models) {
      test(`${c.name} on ${model}`, async () => {
        const tokenizer = await loadTokenizer(model);
        const engine = await engineFor(model, { quantized: false });
        const t = encoder(tokenizer, model);
        const source = [
          `model: ${model}`,
          `pattern p ${c.header}: ${c.text}`,
          'verbalizer space=before:',
          '  positive: great',
          '  negative: terrible',
          'example:',
          `  text_a: ${a}`,
          `  text_b: ${b}`,
        ].join('\n');
        const result = await computePreview(parse(source), tokenizer, (inputs, ids, k) => engine.score(inputs, ids, k), {
          topK: 1,
          calibrate: false,
        });
        const r = result.examples[0].results[0];
        assert.equal(r.truncated, true, 'the input was cut');
        const expected = c.ids(t, model);
        assert.ok(expected.ids.length <= MAX && expected.ids.includes(t.mask));
        const scored = engine.encodeWithTypes(r.inputB === undefined ? r.input : `${r.input}\uE001${r.inputB}`);
        assert.deepEqual(scored.ids, expected.ids, `${c.name}: the framework's ids`);
        if (expected.typeIds && scored.typeIds) assert.deepEqual(scored.typeIds, expected.typeIds);
        const logits = await directLogits(modelFile(model), expected.ids, expected.ids.indexOf(t.mask), expected.typeIds);
        const p = probabilities(logits, [t.enc(' great')[0], t.enc(' terrible')[0]]);
        assert.ok(Math.abs(r.labels['positive'] - p[0]) <= 1e-6, `P(positive): ${r.labels['positive']} ≠ ${p[0]}`);
      });
    }
  }
});
