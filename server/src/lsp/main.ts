import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { logStrayRejections } from '../model/strayRejections';
import { ClozeServer } from './server';

/**
 * Entry point of the language server. The transport comes from the command
 * line (`--stdio` for Neovim and other editors, `--node-ipc` when VS Code
 * starts it). Anything a library prints with console.log would corrupt the
 * stdio stream, so console output is routed to stderr.
 */
console.log = console.error;
console.info = console.error;

logStrayRejections((line) => console.error(`[cloze] ${line}`));

const connection = createConnection(ProposedFeatures.all);
new ClozeServer(connection).listen();
