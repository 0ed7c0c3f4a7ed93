// The Markdown tables `npm run bench` prints (and the README shows).

const n = (value, digits = 1) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '–';

function table(header, rows) {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join(
    '\n',
  );
}

export function markdown(results) {
  const parts = [];
  const { machine } = results;
  parts.push(
    `${results.quick ? 'Quick smoke run (figures meaningless). ' : ''}${machine.cores} cores (${machine.cpu}), Node ${machine.node}, load average ${machine.loadAverageAtStart.map((x) => n(x, 2)).join(' / ')} at start; medians of several runs after a warm-up.`,
  );
  const goals = [];

  const { check } = results;
  if (check) {
    parts.push(
      '**Checking** (parse + validate, review-bert-small tokenizer loaded)\n\n' +
        table(
          ['patterns + examples', 'lines', 'full check (ms)', 're-check after a one-line edit (ms)'],
          check.sizes.map((row) => [row.size.toLocaleString('en-US'), row.lines.toLocaleString('en-US'), n(row.fullMs), n(row.editMs)]),
        ) +
        `\n\nGrowth per 10× in size: at most ${n(check.growthPer10x, 2)}× (full), ${n(check.editGrowthPer10x, 2)}× (edit). ` +
        `Over the LSP, didChange → publishDiagnostics at ${check.lsp.size.toLocaleString('en-US')}: ${n(check.lsp.editMs)} ms.`,
    );
    goals.push(['checking grows linearly: growth per 10× ≤ 10', `${n(check.growthPer10x, 2)}×`, check.growthPer10x <= 10]);
    if (check.shapes) {
      parts.push(
        'Unusual document shapes, each checked at n and 10·n statements:\n\n' +
          table(
            ['shape', 'n', 'check at n (ms)', 'at 10·n (ms)', 'growth'],
            check.shapes.map((s) => [s.shape, s.small.toLocaleString('en-US'), n(s.smallMs), n(s.largeMs), `${n(s.growth, 2)}×`]),
          ),
      );
      const worst = Math.max(...check.shapes.map((s) => s.growth));
      // Linear is 10×; a little above it is the garbage collector on the larger heap, 100× is quadratic.
      goals.push(['every document shape grows about linearly: growth per 10× ≤ 20', `${n(worst, 2)}×`, worst <= 20]);
    }
  }

  const { preview } = results;
  if (preview) {
    const rows = [];
    for (const [model, p] of Object.entries(preview)) {
      for (const [label, r] of [
        [`${model}, ${p.file.includes('quantized') ? 'int8' : 'fp32'}`, p],
        [`${model}, ${p.fp32.file.includes('quantized') ? 'int8' : 'fp32'}`, p.fp32],
      ]) {
        rows.push([
          label,
          `${r.graph}, ${r.precision ?? ''}, batch ${r.batchSize}`,
          n(r.pairsPerSecond.engine, 0),
          r.pairsPerSecond.pipeline ? n(r.pairsPerSecond.pipeline, 1) : '',
          n(r.pairsPerSecond.limit, 0),
          r.pairsPerSecond.limitFullGraph ? n(r.pairsPerSecond.limitFullGraph, 0) : '',
          r.pipelineOverEngine ? `${n(r.pipelineOverEngine, 1)}×` : '',
          `${n(r.engineOverLimit, 2)}×`,
        ]);
      }
      goals.push([`${model}: engine ≥ 3× faster than the pipeline`, `${n(p.pipelineOverEngine, 1)}×`, p.pipelineOverEngine >= 3]);
      goals.push([`${model}: engine within 1.25× of the limit`, `${n(p.engineOverLimit, 2)}×`, p.engineOverLimit <= 1.25]);
      if (model.endsWith('-xenova')) {
        // Hub-style exports: both files, and against a plain loop over the file as shipped.
        for (const [precision, r] of [
          ['int8', p],
          ['fp32', p.fp32],
        ]) {
          if (precision === 'fp32')
            goals.push([`${model} fp32: engine within 1.25× of the limit`, `${n(r.engineOverLimit, 2)}×`, r.engineOverLimit <= 1.25]);
          goals.push([
            `${model} ${precision}: engine ≥ 3× faster than the shipped graph in a loop`,
            `${n(r.fullGraphOverEngine, 1)}×`,
            r.fullGraphOverEngine >= 3,
          ]);
        }
      }
    }
    parts.push(
      `**Preview throughput** (${Object.values(preview)[0].pairs} pairs, pairs per second; (a) engine, cold cache; (b) fill-mask pipeline, one call per pair; (c) one session.run per batch, pre-padded)\n\n` +
        table(
          [
            'model, file',
            'engine graph, batch',
            '(a) engine',
            '(b) pipeline',
            '(c) limit, same graph',
            'runtime, shipped graph',
            '(b)/(a) time',
            '(a)/(c) time',
          ],
          rows,
        ),
    );
  }

  const r = results.responsiveness;
  if (r) {
    parts.push(
      `**Responsiveness** (hover and completion every ${r.intervalMs} ms over stdio; busy = sent while a ${r.pairsPerPreview}-pair preview of ${r.model} was running, ${n(Math.min(...r.previewMs), 0)}–${n(Math.max(...r.previewMs), 0)} ms each)\n\n` +
        table(
          ['', 'requests', 'p50 (ms)', 'p99 (ms)', 'max (ms)'],
          [
            [
              'idle',
              r.idle.hover.count + r.idle.completion.count,
              n(r.idleP50Ms, 2),
              n(r.idleP99Ms, 2),
              n(Math.max(r.idle.hover.maxMs, r.idle.completion.maxMs), 1),
            ],
            [
              'busy',
              r.busy.hover.count + r.busy.completion.count,
              n(r.busyP50Ms, 2),
              n(r.busyP99Ms, 2),
              n(Math.max(r.busy.hover.maxMs, r.busy.completion.maxMs), 1),
            ],
          ],
        ),
    );
    goals.push(['busy p99 ≤ 3× idle p99', `${n(r.busyOverIdleP99, 2)}×`, r.busyOverIdleP99 <= 3]);
  }

  const { startup, memory } = results;
  if (startup && memory) {
    parts.push(
      '**Start and memory** (review-bert-small, int8)\n\n' +
        table(
          ['measure', 'value'],
          [
            ['initialize → first diagnostics of a document', `${n(startup.firstDiagnosticsMs, 0)} ms`],
            ['initialize → diagnostics with the tokenizer loaded', `${n(startup.tokenizerDiagnosticsMs, 0)} ms`],
            [
              'model load (fresh worker → loadModel answered)',
              `${n(startup.modelLoadMs, 0)} ms (engine alone ${n(startup.engineLoadMs, 0)} ms)`,
            ],
            ['server peak RSS, document checked, no preview yet', `${n(memory.serverPeakRssMb, 0)} MB`],
            [`inference process peak RSS (model loaded, ${memory.previewPairs}-pair preview)`, `${n(memory.workerPeakRssMb, 0)} MB`],
          ],
        ),
    );
  }

  if (goals.length > 0 && !results.quick) {
    parts.push(
      '**Goals**\n\n' +
        table(
          ['goal', 'measured', 'met'],
          goals.map(([goal, figure, met]) => [goal, figure, met ? 'yes' : 'no']),
        ),
    );
  }
  parts.push(`Run took ${n(results.durationSeconds, 0)} s.`);
  return parts.join('\n\n');
}
