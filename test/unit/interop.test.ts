// `cloze import` / `cloze export`: round trips import → export → import on each format (the
// project's own fixtures in test/fixtures/interop, written for these tests), nothing lost without
// a note, and imports that keep meaning: the imported LM-BFF templates give the very token ids
// LM-BFF's `tokenize_multipart_input` builds (each part encoded on its own), with real tokenizers.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from '../../server/src/language/parse';
import { renderPattern } from '../../server/src/language/render';
import { validateStructure } from '../../server/src/language/validate';
import { exportLmBff, importLmBff } from '../../server/src/interop/lmbff';
import { exportOpenPrompt, importOpenPrompt } from '../../server/src/interop/openprompt';
import { exportPetPvp, exportPetVerbalizers, importPetVerbalizers } from '../../server/src/interop/pet';
import { fromDocument, writeCloze, type PvpSet } from '../../server/src/interop/pvp';
import { parsePythonLiteral } from '../../server/src/interop/pythonLiteral';
import { engineFor } from '../support/directOnnx';
import { fixturesDir, repoRoot } from '../support/paths';
import { loadTokenizer } from '../support/service';

const dir = path.join(fixturesDir, 'interop');
const read = (file: string): string => fs.readFileSync(path.join(dir, file), 'utf8');
const lines = (text: string): string[] => text.split('\n').filter((line) => line.trim() !== '');

/** Through .cloze text and back: what the exporters see of an imported set. */
function throughCloze(set: PvpSet, extra = ''): PvpSet {
  const text = writeCloze(set, [], 'round trip') + extra;
  const doc = parse(text);
  assert.deepEqual(
    doc.syntaxErrors.map((d) => d.message),
    [],
    text,
  );
  return fromDocument(doc);
}

describe('LM-BFF', () => {
  const templates = lines(read('lmbff/auto_template.txt'));
  const mappings = lines(read('lmbff/auto_label_mapping.txt'));

  test('import reads every variant of a template', () => {
    const { value, notes } = importLmBff(templates, mappings);
    const text = writeCloze(value, notes, 'x');
    assert.match(text, /pattern t1: \{sent_0\} All told, a \[MASK\] story\./);
    assert.match(text, /pattern t2: \{sent_0\|drop-last\}\? \[MASK\],\{sent_1\|lower-first\|space\}/);
    // `_Overall` right after *cls* starts with a space that the pattern keeps.
    assert.match(text, /pattern t3: \\ Overall \[MASK\]:\{sent_0\|upper-first\}/);
    assert.match(text, /verbalizer space=before:\n {2}0: awful\n {2}1: splendid/);
    assert.match(text, /verbalizer mapping2 space=before:/);
    // The structural checks accept it (patterns, verbalizers, labels alike).
    assert.deepEqual(
      validateStructure(parse(text)).filter((d) => d.severity === 'error'),
      [],
    );
  });

  test('import → export → import gives the same templates and mappings', () => {
    const first = importLmBff(templates, mappings);
    const exported = exportLmBff(throughCloze(first.value));
    assert.deepEqual(exported.value.templates, templates, 'the templates come back as written');
    assert.deepEqual(
      exported.value.mappings.map((m) => parsePythonLiteral(m)),
      mappings.map((m) => parsePythonLiteral(m)),
    );
    const second = importLmBff(exported.value.templates, exported.value.mappings);
    assert.equal(writeCloze(second.value, [], 'x'), writeCloze(first.value, [], 'x'));
  });

  test('*sep+* inside a template: [SEP] for RoBERTa, [SEP+] (the pair encoding) for BERT', () => {
    const template = ['*cls**sent_0*?*sep+**mask*,*sent_1**sep+*'];
    const roberta = writeCloze(importLmBff(template, ["{'0':'No','1':'Yes'}"]).value, [], 'x');
    assert.match(roberta, /pattern t1: \{sent_0\}\?\[SEP\]\[MASK\],\{sent_1\}/);
    const bert = importLmBff(template, ["{'0':'No','1':'Yes'}"], { pairs: true });
    assert.match(writeCloze(bert.value, [], 'x'), /pattern t1: \{sent_0\}\?\[SEP\+\]\[MASK\],\{sent_1\}/);
    // And back: [SEP+] is *sep+*.
    assert.deepEqual(exportLmBff(throughCloze(bert.value)).value.templates, template);
  });

  test('what LM-BFF cannot say is noted, never dropped silently', () => {
    const set = throughCloze(
      { patterns: [], verbalizers: [] },
      'pattern: {a|drop-punct} It was [MASK].\nverbalizer:\n  pos: great, good\n  neg: bad\n',
    );
    const { notes } = exportLmBff(set);
    assert.ok(notes.some((n) => /no `drop-punct` transform/.test(n)));
    assert.ok(notes.some((n) => /one word per label: `pos` keeps `great` and loses `good`/.test(n)));
    assert.ok(notes.some((n) => /space=auto/.test(n)));
    assert.ok(importLmBff(['*cls**sent_0**label_0**mask*.*sep+*'], ["{'0':'a'}"]).notes.some((n) => /demonstration/.test(n)));
  });

  // LM-BFF's `tokenize_multipart_input`, written again here: each part of the template encoded on its own.
  const lmbffIds = (
    template: string,
    sentences: readonly string[],
    enc: (t: string) => number[],
    ids: { cls: number; mask: number; sep: number },
  ): number[] => {
    const out: number[] = [];
    for (const part of template.split('*')) {
      if (part === 'cls') out.push(ids.cls);
      else if (part === 'mask') out.push(ids.mask);
      else if (part === 'sep' || part === 'sep+') out.push(ids.sep);
      else if (part.startsWith('sent_')) out.push(...enc(sentences[Number(part.split('_')[1])]));
      else if (part.startsWith('+sent_')) out.push(...enc(` ${sentences[Number(part.split('_')[1])]}`));
      else if (part.startsWith('sent-_')) out.push(...enc(sentences[Number(part.split('_')[1])].slice(0, -1)));
      else if (part.startsWith('sentl_') || part.startsWith('+sentl_')) {
        const s = sentences[Number(part.split('_')[1])];
        out.push(...enc(`${part.startsWith('+') ? ' ' : ''}${s.slice(0, 1).toLowerCase()}${s.slice(1)}`));
      } else if (part.startsWith('sentu_')) {
        const s = sentences[Number(part.split('_')[1])];
        out.push(...enc(`${s.slice(0, 1).toUpperCase()}${s.slice(1)}`));
      } else if (part !== '') out.push(...enc(part.replace(/_/g, ' ')));
    }
    return out;
  };

  for (const model of ['tiny-random-roberta', 'tiny-random-bert-cased', 'tiny-random-bert-uncased']) {
    test(`the imported patterns give LM-BFF's token ids (${model})`, async () => {
      const tokenizer = await loadTokenizer(model);
      const engine = await engineFor(model, { quantized: false });
      const doc = parse(writeCloze(importLmBff(templates, mappings).value, [], 'x'));
      const sentences = ['The film is a small wonder.', 'Nobody left the theatre early.'];
      const fields = new Map([
        ['sent_0', sentences[0]],
        ['sent_1', sentences[1]],
      ]);
      const id = (token: string | undefined): number => tokenizer.tokenId(token ?? '') ?? -1;
      const special = { cls: id(tokenizer.special.cls), mask: tokenizer.maskTokenId, sep: id(tokenizer.special.sep) };
      for (const [i, template] of templates.entries()) {
        const expected = lmbffIds(template, sentences, (t) => tokenizer.tokenize(t).map((p) => p.id), special);
        const input = renderPattern(doc.patterns[i], fields, tokenizer.special);
        assert.deepEqual(engine.encode(input), expected, `${template} → ${JSON.stringify(input)}`);
      }
      // A two-segment template: for BERT `*sep+*` is the pair encoding, segment ids included.
      if (model.includes('roberta')) return;
      const pairTemplate = '*cls**sent_0*?*sep+**mask*,*+sentl_1**sep+*';
      const pair = parse(writeCloze(importLmBff([pairTemplate], mappings, { pairs: true }).value, [], 'x'));
      const expectedIds = lmbffIds(pairTemplate, sentences, (t) => tokenizer.tokenize(t).map((p) => p.id), special);
      const encoded = engine.encodeWithTypes(renderPattern(pair.patterns[0], fields, tokenizer.special));
      assert.deepEqual(encoded.ids, expectedIds);
      // LM-BFF: segment 0 up to and including the `*sep+*`, 1 after it.
      const sepAt = expectedIds.indexOf(special.sep);
      assert.deepEqual(
        encoded.typeIds,
        expectedIds.map((_, i) => (i <= sepAt ? 0 : 1)),
      );
    });
  }
});

describe('OpenPrompt', () => {
  const templates = read('openprompt/manual_template.txt');

  test('import reads placeholders, post_processing, meta, shortenable, <!>words, and notes soft tokens', () => {
    const { value, notes } = importOpenPrompt(
      templates,
      { content: read('openprompt/manual_verbalizer.txt'), json: false },
      { labels: ['negative', 'positive'] },
    );
    const text = writeCloze(value, notes, 'x');
    // Placeholders are shortenable by default, meta fields not; truncate_method tail cuts the last one first.
    assert.match(text, /pattern t1 shorten=text_a: \{text_a\|drop-punct\}\. In short, it was \[MASK\]\./);
    assert.match(text, /pattern t2 shorten=text_a: \{text_a\} \{text_b\}\? \[MASK\], \{topic\|lower-first\}/);
    const balanced = importOpenPrompt('{"placeholder":"text_a"} {"placeholder":"text_b"} {"mask"}', undefined, {
      truncateMethod: 'balanced',
    });
    assert.match(writeCloze(balanced.value, [], 'x'), /pattern t1 shorten=text_a,text_b truncate=balanced:/);
    const tail = importOpenPrompt('{"placeholder":"text_a"} {"meta":"m", "shortenable": True} {"mask"}', undefined, {});
    assert.match(writeCloze(tail.value, [], 'x'), /pattern t1 shorten=m,text_a:/);
    assert.match(
      text,
      /verbalizer aggregate=mean-logprob space=before multi-token=first:\n {2}negative: awful, dreadful, "bad"\n {2}positive: splendid, moving/,
    );
    assert.match(text, /verbalizer v2 aggregate=mean-logprob/);
    assert.ok(notes.some((n) => /soft token/.test(n)));
  });

  for (const [file, json] of [
    ['openprompt/manual_verbalizer.txt', false],
    ['openprompt/manual_verbalizer.json', true],
    ['openprompt/knowledgeable_verbalizer.txt', false],
  ] as const) {
    test(`import → export → import: ${path.basename(file)}`, () => {
      const options = json
        ? {}
        : {
            labels: file.includes('knowledgeable') ? ['sports', 'business', 'politics'] : ['negative', 'positive'],
            multiToken: 'mean' as const,
          };
      const first = importOpenPrompt(templates, { content: read(file), json }, options);
      const exported = exportOpenPrompt(throughCloze(first.value));
      // The exported verbalizer is JSON (it names the classes); the first one comes back as it was.
      const verbalizers = JSON.parse(exported.value.verbalizers) as unknown[];
      const second = importOpenPrompt(
        exported.value.templates,
        { content: exported.value.verbalizers, json: true },
        { multiToken: options.multiToken },
      );
      assert.equal(verbalizers.length, first.value.verbalizers.length);
      // Soft tokens and `shortenable` were noted at the first import and are gone; the rest is identical.
      assert.equal(writeCloze(second.value, [], 'x'), writeCloze(first.value, [], 'x'));
      assert.match(
        exported.value.python,
        /ManualTemplate\(tokenizer=tokenizer, text='\{"placeholder": "text_a", "post_processing": lambda s: s\.rstrip\(string\.punctuation\)\}\. In short, it was \{"mask"\}\.'\)/,
      );
      assert.match(exported.value.python, new RegExp(`multi_token_handler='${options.multiToken ?? 'first'}', post_log_softmax=True`));
    });
  }
});

describe('PET', () => {
  const file = read('pet/verbalizer.txt');
  const patterns =
    '\npattern p0 verbalizer=p0: {question} [MASK]: {answer|drop-punct}\npattern p1 verbalizer=p1: [MASK] question: {question|lower-first}\n';

  test('import: one verbalizer per pattern id, PET’s scoring', () => {
    const { value, notes } = importPetVerbalizers(file);
    const text = writeCloze(value, notes, 'x');
    assert.match(
      text,
      /verbalizer p0 aggregate=mean-logit space=before:\n {2}1: Society, Culture\n {2}2: Science, Mathematics\n {2}3: Health/,
    );
    assert.match(text, /verbalizer p1 aggregate=mean-logit space=before:/);
    assert.ok(notes.some((n) => /patterns are Python code/.test(n)));
  });

  test('a verbalizer file without label lines is refused, saying what one holds', () => {
    for (const content of ['', '\n\n', '0\n1\n'])
      assert.throws(
        () => importPetVerbalizers(content),
        /^Error: the verbalizer file has no label lines: PET's --verbalizer_file holds a pattern id line/,
      );
  });

  test('import → export → import gives the same verbalizer file', () => {
    const first = importPetVerbalizers(file);
    const exported = exportPetVerbalizers(throughCloze(first.value, patterns));
    assert.equal(exported.value, file);
    assert.deepEqual(exported.notes, []);
    assert.equal(writeCloze(importPetVerbalizers(exported.value).value, [], 'x'), writeCloze(first.value, [], 'x'));
  });

  test('[SEP+] is PET’s second list of parts (parts_b)', () => {
    const set = throughCloze({ patterns: [], verbalizers: [] }, 'pattern: {h}? [SEP+] [MASK], {p}\nverbalizer:\n  yes: Yes\n  no: No\n');
    assert.match(
      exportPetPvp(set).value,
      /return \[self\.shortenable\(example\.text_a\), '\?'\], \[self\.mask, ',', self\.shortenable\(example\.text_b\)\]/,
    );
    assert.deepEqual(exportLmBff(set).value.templates, ['*cls**sent_0*?*sep+**mask*,*+sent_1**sep+*']);
  });

  test('the PVP class states the patterns and verbalizers', () => {
    const set = throughCloze(importPetVerbalizers(file).value, patterns);
    const pvp = exportPetPvp(set).value;
    assert.match(
      pvp,
      /if self\.pattern_id == 0: {2}# pattern p0\n {12}return \[self\.shortenable\(example\.text_a\), self\.mask, ':', self\.shortenable\(self\.remove_final_punc\(example\.text_b\)\)\], \[\]/,
    );
    assert.match(
      pvp,
      /elif self\.pattern_id == 1: {2}# pattern p1\n {12}return \[self\.mask, 'question:', self\.shortenable\(self\.lowercase_first\(example\.text_a\)\)\], \[\]/,
    );
    assert.match(pvp, /\{'1': \['Society', 'Culture'\], '2': \['Science', 'Mathematics'\], '3': \['Health'\]\}, {2}# pattern p0/);
  });
});

describe('names', () => {
  const errors = (text: string): string[] =>
    validateStructure(parse(text))
      .filter((d) => d.severity === 'error' && d.code !== 'pattern-missing')
      .map((d) => `${d.code}: ${d.message}`);

  test('a renamed label never takes the name of another (LM-BFF, OpenPrompt, PET)', () => {
    const lmbff = importLmBff(['*cls**sent_0*_It_was*mask*.'], ["{'a b':'x','a_b':'y'}"]);
    const openprompt = importOpenPrompt('{"placeholder":"text_a"} {"mask"}', { content: '{"a b": ["x"], "a_b": ["y"]}', json: true }, {});
    const pet = importPetVerbalizers('0\na/b x\na_b y\n');
    for (const { value, notes } of [lmbff, openprompt, pet]) {
      const text = writeCloze(value, notes, 'x');
      // The name valid as written keeps it; the renamed one is numbered, and the note says so.
      assert.match(text, /\n {2}a_b_2: x\n {2}a_b: y\n/, text);
      assert.ok(
        notes.some((n) => /is written `a_b_2`: .*`a_b` is the name of another label/.test(n)),
        notes.join('\n'),
      );
      assert.deepEqual(errors(text), [], text);
    }
  });

  test('the same name twice is numbered with a note (OpenPrompt --labels)', () => {
    const { value, notes } = importOpenPrompt(
      '{"placeholder":"text_a"} {"mask"}',
      { content: 'x\ny\nz\n', json: false },
      { labels: ['a', 'a', '2'] },
    );
    const text = writeCloze(value, notes, 'x');
    assert.match(text, /\n {2}a: x\n {2}a_2: y\n {2}2: z\n/);
    assert.ok(notes.some((n) => n === 'Label `a` is written `a_2`: `a` is the name of another label.'));
    assert.deepEqual(errors(text), []);
  });

  test('OpenPrompt fields are field names, one per input', () => {
    const { value, notes } = importOpenPrompt(
      '{"placeholder":"text a"} {"placeholder":"text_a"} {"mask"}\n{"meta":"text_a"} {"meta":"x-y"} {"placeholder":"text_a"} {"mask"}',
      { content: '{"a": ["x"]}', json: true },
      {},
    );
    const text = writeCloze(value, notes, 'x');
    // `x-y` is a label name but not a field name; `text a` cleans to the placeholder text_a's name, and the meta field
    // text_a is another input than the placeholder text_a: three fields, one name each, the same in both templates.
    assert.match(text, /pattern t1 shorten=text_a,text_a_2: \{text_a_2\} \{text_a\} \[MASK\]/);
    assert.match(text, /pattern t2 shorten=text_a: \{text_a_3\} \{x_y\} \{text_a\} \[MASK\]/);
    assert.deepEqual(
      notes.filter((n) => /^The (placeholder|meta field)/.test(n)),
      [
        'The placeholder `text a` is written `text_a_2`: a Cloze field is letters, digits or `_`, and `text_a` is the name of another field.',
        'The meta field `text_a` is written `text_a_3`: `text_a` is the name of another field.',
        'The meta field `x-y` is written `x_y`: a Cloze field is letters, digits or `_`.',
      ],
    );
    assert.deepEqual(errors(text), [], text);
  });
});

describe('the CLI', () => {
  const cli = path.join(repoRoot, 'server', 'out', 'cli', 'main.js');
  test('cloze import writes a file that cloze export reads back', () => {
    const out = fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), 'cloze-interop-'));
    const cloze = path.join(out, 'sst2.cloze');
    const imported = spawnSync(
      process.execPath,
      [
        cli,
        'import',
        'lmbff',
        '--template-file',
        path.join(dir, 'lmbff/auto_template.txt'),
        '--mapping',
        "{'0':'awful','1':'splendid'}",
        '-o',
        cloze,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(imported.status, 0, imported.stderr);
    const exported = spawnSync(process.execPath, [cli, 'export', cloze, '--to', 'lmbff', '--out-dir', out], { encoding: 'utf8' });
    assert.equal(exported.status, 0, exported.stderr);
    assert.equal(fs.readFileSync(path.join(out, 'template.txt'), 'utf8'), read('lmbff/auto_template.txt'));
    const bad = spawnSync(process.execPath, [cli, 'import', 'lmbff', '--mapping', "{'0':"], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^cloze import: lmbff needs --template/);
    const broken = spawnSync(process.execPath, [cli, 'import', 'lmbff', '--template', '*cls**sent_0**mask*', '--mapping', "{'0':"], {
      encoding: 'utf8',
    });
    assert.equal(broken.status, 2);
    assert.match(broken.stderr, /is not a Python dict/);
  });

  const run = (args: readonly string[], cwd?: string): { status: number | null; stdout: string; stderr: string } =>
    spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd });
  const scratch = (): string => fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), 'cloze-interop-'));
  /** Every refusal names its subcommand and says what is wrong in words: no bare `cloze:`, no errno. */
  const inWords = (stderr: string, command: 'import' | 'export'): void => {
    assert.doesNotMatch(stderr, /^cloze:/m, stderr);
    assert.doesNotMatch(stderr, /\bE[A-Z]{3,}\b/, stderr);
    assert.match(stderr, new RegExp(`^cloze ${command}: `, 'm'), stderr);
  };
  const valid = 'pattern: {x} It was [MASK].\nverbalizer:\n  a: good\n  b: bad\n';

  test('export: a missing file, a folder, an --out-dir that is a file or whose parent is missing are said in words', () => {
    const out = scratch();
    const file = path.join(out, 'ok.cloze');
    fs.writeFileSync(file, valid);
    fs.writeFileSync(path.join(out, 'plain'), '');
    const missing = run(['export', 'nope.cloze', '--to', 'pet'], out);
    assert.equal(missing.status, 2);
    inWords(missing.stderr, 'export');
    assert.match(missing.stderr, /^cloze export: nope\.cloze does not exist/);
    const folder = run(['export', out, '--to', 'pet']);
    assert.equal(folder.status, 2);
    inWords(folder.stderr, 'export');
    assert.match(folder.stderr, /is a folder; name the \.cloze file to export\./);
    const intoFile = run(['export', file, '--to', 'pet', '--out-dir', path.join(out, 'plain')]);
    assert.equal(intoFile.status, 2);
    inWords(intoFile.stderr, 'export');
    assert.match(intoFile.stderr, /plain is a file, not a folder/);
    const underFile = run(['export', file, '--to', 'pet', '--out-dir', path.join(out, 'plain', 'x')]);
    assert.equal(underFile.status, 2);
    inWords(underFile.stderr, 'export');
    // Only the named folder is created, never the folders above it.
    const deep = path.join(out, 'no', 'such', 'dir');
    const orphan = run(['export', file, '--to', 'pet', '--out-dir', deep]);
    assert.equal(orphan.status, 2);
    inWords(orphan.stderr, 'export');
    assert.match(orphan.stderr, /the folder .*such does not exist; --out-dir creates only its last folder \(dir\)/);
    assert.equal(fs.existsSync(path.join(out, 'no')), false);
    const fresh = run(['export', file, '--to', 'pet', '--out-dir', path.join(out, 'new')]);
    assert.equal(fresh.status, 0, fresh.stderr);
    assert.match(fresh.stderr, /^wrote .*new\/verbalizer\.txt, .*new\/pvp\.py$/m);
    assert.ok(fs.existsSync(path.join(out, 'new', 'pvp.py')));
  });

  test('import lmbff: a mapping LM-BFF cannot use is refused in words that quote it, never a parser node', () => {
    const template = '*cls**sent_0*_It_was*mask*.*sep+*';
    for (const [mapping, message] of [
      // Valid Python, but LM-BFF looks its labels up as strings ('0', '1'): a number key matches none.
      [
        "{0:'terrible',1:'great'}",
        "The mapping `{0:'terrible',1:'great'}` cannot be used: the keys `0` and `1` are numbers, but LM-BFF looks the label words up by the labels of the task, which are strings ('0', '1', …), so a number key matches no label. Write it `{'0':'terrible','1':'great'}`.",
      ],
      [
        '{0:terrible',
        "The mapping `{0:terrible` is not a Python dict: the `{` at character 1 is never closed; add `}` at the end. Closed so, it still cannot be used: the key `0` is a number, but LM-BFF looks the label words up by the labels of the task, which are strings ('0', '1', …), so a number key matches no label; the label word `terrible` of `0` is not quoted. Write it `{'0':'terrible'}`.",
      ],
      [
        "{'0':'terrible','1':great}",
        "The mapping `{'0':'terrible','1':great}` cannot be used: the label word `great` of `'1'` is not quoted. Write it `{'0':'terrible','1':'great'}`.",
      ],
      [
        "{'0':'terrible'",
        "The mapping `{'0':'terrible'` is not a Python dict: the `{` at character 1 is never closed; add `}` at the end.",
      ],
      [
        "{'0':'terrible",
        "The mapping `{'0':'terrible` is not a Python dict: the string opened by `'` at character 6 is never closed; add `'` where it ends and `}` at the end.",
      ],
      [
        "{'0' 'terrible'}",
        "The mapping `{'0' 'terrible'}` is not a Python dict: expected `:` after the key `'0'`, found `'terrible'` at character 6.",
      ],
      ["{'0':}", "The mapping `{'0':}` is not a Python dict: expected a value, found `}` at character 6."],
      ["{'0':'a'}}", "The mapping `{'0':'a'}}` is not a Python dict: unexpected `}` at character 10 after the value."],
      [
        "{'0':['a','b']}",
        "The mapping `{'0':['a','b']}` cannot be used: the label word of `'0'` is `['a','b']`, not one quoted word (LM-BFF takes one word per label).",
      ],
      [
        "{positive:'great'}",
        "The mapping `{positive:'great'}` cannot be used: the key `positive` is not a quoted label. Write it `{'positive':'great'}`.",
      ],
      // A comma separates label words in a .cloze verbalizer: `great, fine` would become two words.
      [
        "{'0':'terrible','1':'great, fine'}",
        "The mapping `{'0':'terrible','1':'great, fine'}` cannot be used: the label word `great, fine` of `'1'` has a comma, which a .cloze verbalizer reads as a separator between label words (it cannot hold a comma; LM-BFF takes one token per label).",
      ],
    ] as const) {
      const result = run(['import', 'lmbff', '--template', template, '--mapping', mapping]);
      assert.equal(result.status, 2, `${mapping}\n${result.stderr}`);
      assert.equal(result.stdout, '');
      assert.equal(result.stderr, `cloze import: ${message}\n`);
      assert.doesNotMatch(result.stderr, /\[object Object\]|"expression"/);
    }
    // The quoted form of the same mapping is read.
    const ok = run(['import', 'lmbff', '--template', template, '--mapping', "{'0':'terrible','1':'great'}"]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /\n {2}0: terrible\n {2}1: great\n/);
  });

  test('import openprompt: a piece that is no Python dict is named with its template, never dumped as a parser node', () => {
    for (const [template, message] of [
      [
        '{"placeholder":"text_a" "x"} It was {"mask"}.',
        'cloze import: The piece `{"placeholder":"text_a" "x"}` in `{"placeholder":"text_a" "x"} It was {"mask"}.` is not a Python dict: expected `,` or `}` after `"text_a"`, found `"x"` at character 25 of the piece.\n',
      ],
      [
        '{placeholder:"text_a"} It was {"mask"}.',
        'cloze import: The piece `{placeholder:"text_a"}` in `{placeholder:"text_a"} It was {"mask"}.` has the unquoted key `placeholder`, a name Python does not know; write `"placeholder"`.\n',
      ],
    ] as const) {
      const result = run(['import', 'openprompt', '--template', template]);
      assert.equal(result.status, 2, result.stderr);
      assert.equal(result.stderr, message);
    }
    const unknown = run(['import', 'openprompt', '--template', '{"placeholder":"text_a"} {"foo": lambda s: s} It was {"mask"}.']);
    assert.equal(unknown.status, 0, unknown.stderr);
    assert.match(unknown.stderr, /^note: The piece `\{"foo": lambda s: s\}` in `.*` is not understood; it is left out\.$/m);
    assert.doesNotMatch(unknown.stderr, /"expression"/);
  });

  test('export: a file with no pattern or no verbalizer is refused for every format, its errors printed, nothing written', () => {
    const out = scratch();
    const pattern = 'pattern: {x} It was [MASK].\n';
    const verbalizer = 'verbalizer:\n  a: good\n  b: bad\n';
    const pm = 'error pattern-missing The file has no pattern. Add one, e.g. `pattern: {text} It was [MASK].`';
    const vm =
      'error verbalizer-missing The file has no verbalizer: add `verbalizer:` with indented lines `label: word, word` that map each label to its label words.';
    for (const [name, text, errors, lacks] of [
      ['empty', '', [pm, vm], 'no pattern and no verbalizer'],
      ['comments', '# a file to fill in\n', [pm, vm], 'no pattern and no verbalizer'],
      ['patterns', pattern, [vm], 'no verbalizer'],
      ['verbalizers', verbalizer, [pm], 'no pattern'],
    ] as const) {
      const file = path.join(out, `${name}.cloze`);
      fs.writeFileSync(file, text);
      for (const [to, format] of [
        ['lmbff', 'LM-BFF'],
        ['openprompt', 'OpenPrompt'],
        ['pet', 'PET'],
      ] as const) {
        const them = errors.length === 1 ? 'it' : 'them';
        const expected = `${errors.map((e) => `${file}:1:1 ${e}\n`).join('')}cloze export: the file has ${lacks}, and an export to ${format} needs a pattern and a verbalizer; add ${them} first (nothing was written).\n`;
        const printed = run(['export', file, '--to', to]);
        assert.equal(printed.status, 1, `${name} --to ${to}\n${printed.stderr}`);
        assert.equal(printed.stdout, '');
        assert.equal(printed.stderr, expected);
        const folder = path.join(out, `${name}-${to}`);
        const written = run(['export', file, '--to', to, '--out-dir', folder]);
        assert.equal(written.status, 1, written.stderr);
        assert.equal(written.stderr, expected);
        assert.equal(fs.existsSync(folder), false, `${folder} was created`);
        // The same errors as `cloze check` reports for the file.
        const check = run(['check', '--offline', '--models-dir', out, file]);
        for (const e of errors) assert.ok(check.stdout.includes(`${file}:1:1 ${e}`), check.stdout);
      }
    }
    // With both, each format exports.
    const file = path.join(out, 'both.cloze');
    fs.writeFileSync(file, pattern + verbalizer);
    for (const to of ['lmbff', 'openprompt', 'pet']) assert.equal(run(['export', file, '--to', to]).status, 0, to);
  });

  test('import: unreadable inputs and unwritable outputs are said in words; -o creates no folder and says what it wrote', () => {
    const out = scratch();
    fs.writeFileSync(path.join(out, 'plain'), '');
    const lmbff = ['import', 'lmbff', '--template', '*cls**sent_0*_It_was*mask*.', '--mapping', "{'a':'b'}"];
    for (const [args, message] of [
      [[...lmbff, '-o', out], /^cloze import: cannot write .*: it is a folder; name a file\.$/m],
      [
        [...lmbff, '-o', path.join(out, 'plain', 'x.cloze')],
        /^cloze import: cannot write .*: a part of its path is a file, not a folder\.$/m,
      ],
      [[...lmbff, '-o', path.join(out, 'missing', 'x.cloze')], /^cloze import: cannot write .*: the folder .*missing does not exist\.$/m],
      // /proc exists and refuses new files with ENOENT: it was said to be a folder that does not exist.
      [
        [...lmbff, '-o', '/proc/x.cloze'],
        /^cloze import: cannot write \/proc\/x\.cloze: \/proc does not take new files; name a file in another folder\.$/m,
      ],
      [
        ['export', path.join(fixturesDir, 'eval', 'sst2-short.cloze'), '--to', 'pet', '--out-dir', '/proc/x'],
        /^cloze export: cannot create the folder \/proc\/x: \/proc does not take new folders/m,
      ],
      [
        ['import', 'openprompt', '--template', '{"mask"}', '--verbalizer-file', out],
        /^cloze import: .* is a folder; name a verbalizer file\.$/m,
      ],
      [['import', 'pet', '--verbalizer-file', 'nope.txt'], /^cloze import: nope\.txt does not exist/m],
      [['import', 'lmbff', '--template-file', out, '--mapping', "{'a':'b'}"], /^cloze import: .* is a folder; name a template file\.$/m],
    ] as const) {
      const result = run(args, out);
      assert.equal(result.status, 2, `${args.join(' ')}\n${result.stderr}`);
      inWords(result.stderr, args[0] === 'export' ? 'export' : 'import');
      assert.match(result.stderr, message);
    }
    assert.equal(fs.existsSync(path.join(out, 'missing')), false);
    const target = path.join(out, 'ok.cloze');
    const ok = run([...lmbff, '-o', target]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stderr, `wrote ${target}\n`);
  });

  test('import reads what the framework reads: a key written twice, --labels of another count, a cut-off JSON file', () => {
    const out = scratch();
    // Python keeps one key `a`, in its first place, with its last word: LM-BFF scores `a: e`, not a second label.
    const twice = run(['import', 'lmbff', '--template', '*cls**sent_0**mask*', '--mapping', "{'a':'b','c':'d','a':'e'}"]);
    assert.equal(twice.status, 0, twice.stderr);
    assert.match(twice.stdout, /\n {2}a: e\n {2}c: d\n?$/);
    assert.doesNotMatch(twice.stdout, /a_2/);
    assert.match(
      twice.stderr,
      /note: the mapping names `a` twice; as Python \(and so LM-BFF\) reads the dict, its last word `e` is kept, not `b`/,
    );
    const txt = path.join(out, 'mv.txt');
    fs.writeFileSync(txt, 'awful,dreadful\nsplendid,great\n');
    const template = ['import', 'openprompt', '--template', '{"placeholder":"text_a"} It was {"mask"}.', '--verbalizer-file', txt];
    const more = run([...template, '--labels', 'a,b,c']);
    assert.equal(more.status, 0, more.stderr);
    assert.match(more.stderr, /--labels names 3 classes, but .*mv\.txt has 2 lines per verbalizer: `c` is not used\./);
    const fewer = run([...template, '--labels', 'a']);
    assert.match(fewer.stdout, /\n {2}a: awful, dreadful\n {2}1: splendid, great/);
    assert.match(fewer.stderr, /--labels names 1 class, but .* the lines past the names are labelled by their numbers/);
    assert.doesNotMatch(run([...template, '--labels', 'a,b']).stderr, /--labels names/);
    const cut = path.join(out, 'cut.json');
    fs.writeFileSync(cut, '{"negative":["bad"');
    const broken = run(['import', 'openprompt', '--template', '{"placeholder":"text_a"} {"mask"}', '--verbalizer-file', cut]);
    assert.equal(broken.status, 2);
    inWords(broken.stderr, 'import');
    assert.match(broken.stderr, /^cloze import: .*cut\.json is not valid JSON \(.*\); it may be cut short\.$/m);
  });

  test('import: a file the source makes invalid is written, its errors printed as cloze check prints them, exit 1', () => {
    const out = scratch();
    for (const [template, code, at] of [
      ['*cls**sent_0*', 'mask-missing', '3:13'],
      ['*cls**sent_0**mask**mask*', 'mask-multiple', '3:27'],
    ] as const) {
      const file = path.join(out, `${code}.cloze`);
      const result = run(['import', 'lmbff', '--template', template, '--mapping', "{'a':'b'}", '-o', file]);
      assert.equal(result.status, 1, result.stderr);
      assert.ok(fs.existsSync(file));
      assert.match(result.stderr, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${at} error ${code} `, 'm'));
      assert.match(
        result.stderr,
        /\ncloze import: the imported file has 1 error that the LM-BFF source has too \(it is written as the source says\); fix it before using the file\.\n$/,
      );
      // The same lines as `cloze check` gives the file (without a model: the structural errors).
      const check = run(['check', '--offline', '--models-dir', out, file]);
      assert.ok(check.stdout.includes(`${file}:${at} error ${code} `), check.stdout);
    }
    // A rename that would collide is numbered instead: a valid file, exit 0.
    const collide = run(['import', 'lmbff', '--template', '*cls**sent_0**mask*', '--mapping', "{'a b':'x','a_b':'y'}"]);
    assert.equal(collide.status, 0, collide.stderr);
    assert.match(collide.stdout, /\n {2}a_b_2: x\n {2}a_b: y\n/);
    assert.match(collide.stderr, /^note: Label `a b` is written `a_b_2`/m);
    // What the inputs cannot hold by design is a note, not an error: PET's file has no patterns, a template alone no verbalizer.
    const pet = run(['import', 'pet', '--verbalizer-file', path.join(dir, 'pet/verbalizer.txt')]);
    assert.equal(pet.status, 0, pet.stderr);
    assert.match(pet.stderr, /^note: PET's patterns are Python code/m);
    const template = run(['import', 'openprompt', '--template', '{"placeholder":"text_a"} It was {"mask"}.']);
    assert.equal(template.status, 0, template.stderr);
    assert.match(template.stderr, /^note: No verbalizer file was given/m);
    // A source that gives a verbalizer file without a class is an error of the source.
    fs.writeFileSync(path.join(out, 'empty.json'), '{}');
    const empty = run([
      'import',
      'openprompt',
      '--template',
      '{"placeholder":"text_a"} It was {"mask"}.',
      '--verbalizer-file',
      path.join(out, 'empty.json'),
    ]);
    assert.equal(empty.status, 1, empty.stderr);
    assert.match(empty.stderr, /^<stdout>:\d+:\d+ error /m);
  });
});
