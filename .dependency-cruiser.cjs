// The folder layering of seglog (docs/ARCHITECTURE.md, "Who may import whom"): this file is the
// source of truth, and `npm run lint` checks it. A module may import only modules of its own layer
// or of a layer below; no import cycles at all, type-only imports included.
//
//   1  src/errors.ts, src/files/         error classes, file names, checkpoints, native bindings
//   2  src/record/                       the batch codec, codecs, CRC
//   3  src/index/                        offset and time indexes
//   4  src/segment/                      a segment and its files
//   5  src/log/ (all but layer 7)        the state object (local-log.ts), loading, config, lock
//   6  src/retention/, src/cleaner/      deleting and compacting segments, through the state object
//   7  src/log/{log,stream,consumer,consumer-offsets,flusher}.ts   the public Log
//   8  src/topic/                        partitions of a topic
//   9  src/broker/, src/cli/             the Kafka protocol front door, the command
//   -  src/index.ts, src/demo/           the package entry and the demo: may import anything
const FACADE = '^src/log/(log|stream|consumer|consumer-offsets|flusher)[.]ts$';

const LAYERS = [
  { name: '1 errors+files', path: '^src/(errors[.]ts$|files/)' },
  { name: '2 record', path: '^src/record/' },
  { name: '3 index', path: '^src/index/' },
  { name: '4 segment', path: '^src/segment/' },
  { name: '5 log state', path: '^src/log/', pathNot: FACADE },
  { name: '6 retention+cleaner', path: '^src/(retention|cleaner)/' },
  { name: '7 log facade', path: FACADE },
  { name: '8 topic', path: '^src/topic/' },
  { name: '9 broker+cli', path: '^src/(broker|cli)/' },
];

/** Layer i may not import any layer above it. */
const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.name.replace(/[^a-z0-9]+/gi, '-')}`,
  comment: `layer ${layer.name} may import only layers 1-${i + 1} (see .dependency-cruiser.cjs)`,
  severity: 'error',
  from: layer.pathNot === undefined ? { path: layer.path } : { path: layer.path, pathNot: layer.pathNot },
  to: { path: LAYERS.slice(i + 1).map((l) => `(${l.path})`).join('|') },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'no import cycles, type-only imports included',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'broker-imports',
      comment: 'the broker works through topic and log (and the codec, files and errors), never on segments, indexes or retention directly',
      severity: 'error',
      from: { path: '^src/broker/' },
      to: { path: '^src/(segment|index|retention|cleaner)/' },
    },
    {
      name: 'only-cli-and-entry-import-broker',
      comment: 'nothing may import the broker except the cli and src/index.ts',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(broker/|cli/|index[.]ts$)' },
      to: { path: '^src/broker/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|dist-all|build)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
