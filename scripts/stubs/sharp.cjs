/* global module */
// Stands in for `sharp` in the bundled server. transformers.js 2.17.2 imports
// sharp at load time (src/utils/image.js) but calls it only to decode images,
// which a masked language model never does. Shipping sharp would mean shipping
// its native libvips binaries (16 MB a platform) for nothing; calling this
// stub says why it is missing instead of failing obscurely.
module.exports = function sharp() {
  throw new Error('Image processing is not available in the Cloze bundle (sharp is not shipped).');
};
