import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modelLineEdit } from '../../server/src/language/models';
import { parse } from '../../server/src/language/parse';
import { validateStructure } from '../../server/src/language/validate';

/**
 * The edit "Select a model…" writes in editors other than VS Code (the server's `cloze.selectModel`):
 * the model is the file's afterwards, whatever shape the file had.
 */

const apply = (text: string, id: string): string => {
  const { start, end, newText } = modelLineEdit(text, id);
  return text.slice(0, start) + newText + text.slice(end);
};

test('the `model:` value is replaced, an empty one filled (the fix is offered for "The model is missing")', () => {
  assert.equal(apply('# c\nmodel: old  \npattern: {x} [MASK]\n', 'new'), '# c\nmodel: new  \npattern: {x} [MASK]\n');
  assert.equal(apply('model:\npattern: {x} [MASK]\n', 'new'), 'model: new\npattern: {x} [MASK]\n');
  assert.equal(apply('model:old\n', 'new'), 'model:new\n');
  const fixed = parse(apply('# c\nmodel:\npattern: {x} It was [MASK].\nverbalizer:\n  a: good\n', 'tiny-random-bert-uncased'));
  assert.equal(fixed.models[0]?.id, 'tiny-random-bert-uncased');
  assert.ok(!validateStructure(fixed).some((d) => /model is missing/.test(d.message)));
});

test('without one, a line after the leading comments, with the file’s own line break', () => {
  assert.equal(apply('# a\r\n# b\r\npattern: x\r\n', 'new'), '# a\r\n# b\r\nmodel: new\r\npattern: x\r\n');
  assert.equal(apply('pattern: x\n', 'new'), 'model: new\npattern: x\n');
  assert.equal(apply('', 'new'), 'model: new\n');
  // Comments only: on a line of its own, also when the last has no line break.
  assert.equal(apply('# only a comment', 'new'), '# only a comment\nmodel: new\n');
  assert.equal(apply('# c\n', 'new'), '# c\nmodel: new\n');
});

test('`models:` is not `model:`; the default model line is added beside it', () => {
  assert.equal(apply('models: a, b\npattern: x\n', 'new'), 'model: new\nmodels: a, b\npattern: x\n');
});
