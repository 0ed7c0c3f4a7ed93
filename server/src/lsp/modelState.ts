import type { LoadEvent } from '../model/messages';
import type { ModelState, ModelStateKind } from '../protocol/messages';

/**
 * The state of each open document's model, as the client's status bar shows
 * it: loading (the tokenizer, then the weights for the first preview), ready,
 * or unavailable with the reason. The server reports what it learns (a
 * tokenizer loaded or failed, the worker's load events, a preview's outcome);
 * this class remembers which document uses which model and sends a
 * `cloze/modelState` notification when a document's state changes.
 */
export class ModelStates {
  private readonly byUri = new Map<string, ModelState>();
  /** The worker's models that are loading or loaded, by model id: their state applies to every document using them. */
  private readonly engines = new Map<string, { state: ModelStateKind; detail: string }>();

  constructor(private readonly send: (state: ModelState) => void) {}

  /** What a document's lenses say while they wait: "loading <model>…" or "scoring…". */
  waitingText(uri: string): string | undefined {
    const state = this.byUri.get(uri);
    if (!state) return undefined;
    return state.state === 'loading' ? `loading ${state.model} (${state.detail})…` : `scoring with ${state.model}…`;
  }

  get(uri: string): ModelState | undefined {
    return this.byUri.get(uri);
  }

  report(uri: string, model: string, state: ModelStateKind, detail: string): void {
    // Once the worker has the weights, a tokenizer that loads again (another file) is no news.
    const engine = this.engines.get(model);
    if (state === 'ready' && engine?.state === 'loading') ({ state, detail } = { state: 'loading', detail: engine.detail });
    const next: ModelState = { uri, model, state, detail };
    const last = this.byUri.get(uri);
    if (last && last.model === next.model && last.state === next.state && last.detail === next.detail) return;
    this.byUri.set(uri, next);
    this.send(next);
  }

  /** The inference worker started or finished loading a model's weights. */
  onLoadEvent(event: LoadEvent): void {
    const state: { state: ModelStateKind; detail: string } =
      event.type === 'load-start'
        ? { state: 'loading', detail: 'model weights for the preview' }
        : event.ok
          ? { state: 'ready', detail: `${event.info.file} loaded` }
          : { state: 'unavailable', detail: firstLine(event.message) };
    this.engines.set(event.id, state);
    for (const current of [...this.byUri.values()]) {
      if (current.model === event.id) this.report(current.uri, current.model, state.state, state.detail);
    }
  }

  /** The weights' state if the worker has started on them, for a document whose tokenizer is ready. */
  engineState(model: string): { state: ModelStateKind; detail: string } | undefined {
    return this.engines.get(model);
  }

  forget(uri: string): void {
    this.byUri.delete(uri);
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
