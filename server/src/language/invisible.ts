/**
 * Text that looks right and is not: an invisible character (Unicode Cf: a zero-width space pasted
 * from a web page or a chat, a joiner, a soft hyphen, a direction mark) inside a keyword or a name,
 * or a `[MASK]` written with a Cyrillic or Greek capital, in lower case, or with an invisible
 * character inside. The messages that meet them say what is there, since the editor shows nothing.
 */

const NAMES: Readonly<Record<number, string>> = {
  0x00ad: 'SOFT HYPHEN',
  0x200b: 'ZERO WIDTH SPACE',
  0x200c: 'ZERO WIDTH NON-JOINER',
  0x200d: 'ZERO WIDTH JOINER',
  0x200e: 'LEFT-TO-RIGHT MARK',
  0x200f: 'RIGHT-TO-LEFT MARK',
  0x2060: 'WORD JOINER',
  0xfeff: 'ZERO WIDTH NO-BREAK SPACE',
};

const INVISIBLE = /\p{Cf}/u;

function codeOf(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** `U+200B ZERO WIDTH SPACE`, or the code alone for a character without a name here. */
export function describeCharacter(char: string): string {
  const name = NAMES[char.codePointAt(0) ?? 0];
  return name ? `${codeOf(char)} ${name}` : codeOf(char);
}

export function hasInvisible(text: string): boolean {
  return INVISIBLE.test(text);
}

/** The text with each invisible character shown as `⟨U+200B⟩`, for quoting it in a message. */
export function showInvisible(text: string): string {
  return text.replace(/\p{Cf}/gu, (char) => `⟨${codeOf(char)}⟩`);
}

/** ` It holds an invisible character, U+200B ZERO WIDTH SPACE: delete it.`, or '' when it holds none. */
export function invisibleNote(text: string): string {
  const found = /\p{Cf}/u.exec(text)?.[0];
  return found === undefined ? '' : ` It holds an invisible character, ${describeCharacter(found)}: delete it.`;
}

/** Cyrillic and Greek letters drawn like Latin ones. */
const LOOKALIKES: Readonly<Record<string, string>> = {
  А: 'A',
  В: 'B',
  Е: 'E',
  К: 'K',
  М: 'M',
  Н: 'H',
  О: 'O',
  Р: 'P',
  С: 'C',
  Т: 'T',
  Х: 'X',
  Ѕ: 'S',
  а: 'a',
  е: 'e',
  о: 'o',
  р: 'p',
  с: 'c',
  х: 'x',
  ѕ: 's',
  к: 'k',
  м: 'm',
  Α: 'A',
  Β: 'B',
  Ε: 'E',
  Κ: 'K',
  Μ: 'M',
  Ν: 'N',
  Ο: 'O',
  Ρ: 'P',
  Τ: 'T',
  Χ: 'X',
};

/**
 * Why a pattern without a mask has something that looks like one (`[mask]`, `[MАSK]` with a
 * Cyrillic А, `[MA⟨U+200B⟩SK]`), or undefined when nothing in it does.
 */
export function maskLookalike(text: string): string | undefined {
  for (const match of text.matchAll(/\[[^\]\n]{1,24}\]/gu)) {
    const raw = match[0];
    const inner = raw.slice(1, -1);
    const plain = [...inner.replace(/\p{Cf}/gu, '')].map((char) => LOOKALIKES[char] ?? char).join('');
    if (plain.toUpperCase() !== 'MASK' || raw === '[MASK]') continue;
    const invisible = /\p{Cf}/u.exec(inner)?.[0];
    if (invisible !== undefined)
      return `\`${showInvisible(raw)}\` holds an invisible character, ${describeCharacter(invisible)}: write [MASK].`;
    const lookalike = [...inner].find((char) => LOOKALIKES[char] !== undefined);
    if (lookalike !== undefined)
      return `\`${raw}\` is not the mask: its ${lookalike} is ${describeCharacter(lookalike)} (${/[\u0370-\u03ff]/u.test(lookalike) ? 'Greek' : 'Cyrillic'}), not the Latin ${LOOKALIKES[lookalike]}. Write [MASK].`;
    return `\`${raw}\` is not the mask: the mask is written in capitals, [MASK].`;
  }
  return undefined;
}
