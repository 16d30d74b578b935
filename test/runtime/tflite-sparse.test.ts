// inspectTflite on sparse constants (the schema's SparsityParameters, as in MediaPipe's *_sparse.tflite): valid CSR and block-sparse weights are read, damaged sparsity metadata is MODEL_CORRUPT naming what is wrong.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leBytes, serializeTflite, TFL_TYPE, type TflSparsity, type TflTensor } from '../../src/cli/tflite-write.js';
import { inspectTflite, isEdgetuneError } from '../../src/runtime/index.js';

const f32 = (...xs: number[]): Uint8Array => leBytes(Float32Array.from(xs));

/** A [3,4] weight kept as CSR: row 0 → columns 0 and 3, row 1 → column 1, row 2 → columns 0 and 2. */
const CSR: TflSparsity = {
  traversalOrder: [0, 1],
  levels: [
    { format: 'DENSE', size: 3 },
    { format: 'SPARSE_CSR', segments: [0, 2, 3, 5], indices: [0, 3, 1, 0, 2] },
  ],
};
/** A [4,4] tensor in 1×2 blocks: per row, which of the 2 column blocks are kept (uint8 indices), each block dense. */
const BLOCKS: TflSparsity = {
  traversalOrder: [0, 1, 2],
  blockMap: [1],
  levels: [
    { format: 'DENSE', size: 4 },
    { format: 'SPARSE_CSR', segments: [0, 1, 1, 2, 3], indices: [1, 0, 1], indexType: 'uint8' },
    { format: 'DENSE', size: 2 },
  ],
};
/** An int8 [2,3] tensor traversed column first, uint16 indices: column 0 → row 1; column 2 → rows 0 and 1. */
const COLUMNS: TflSparsity = {
  traversalOrder: [1, 0],
  levels: [
    { format: 'DENSE', size: 3 },
    { format: 'SPARSE_CSR', segments: [0, 1, 1, 3], indices: [1, 0, 1], indexType: 'uint16' },
  ],
};

/** input [1,4] → FULLY_CONNECTED (sparse weight, dense bias) → [1,3]; plus two sparse constants of other layouts. */
function model(
  over: { weight?: Partial<TflTensor>; blocks?: Partial<TflTensor>; columns?: Partial<TflTensor> } = {},
  { denseWeight = false } = {},
): Uint8Array {
  const w: TflTensor = { name: 'w', shape: [3, 4], type: TFL_TYPE.FLOAT32, data: f32(1, 2, 3, 4, 5) };
  const tensors: TflTensor[] = [
    { name: 'input', shape: [1, 4], type: TFL_TYPE.FLOAT32 },
    denseWeight ? w : { ...w, sparsity: CSR, ...over.weight },
    { name: 'b', shape: [3], type: TFL_TYPE.FLOAT32, data: f32(0.1, 0.2, 0.3) },
    { name: 'out', shape: [1, 3], type: TFL_TYPE.FLOAT32 },
    {
      name: 'blocks',
      shape: [4, 4],
      type: TFL_TYPE.FLOAT32,
      data: f32(1, 2, 3, 4, 5, 6),
      sparsity: BLOCKS,
      ...over.blocks,
    },
    {
      name: 'columns',
      shape: [2, 3],
      type: TFL_TYPE.INT8,
      data: new Uint8Array([7, 8, 9]),
      sparsity: COLUMNS,
      ...over.columns,
    },
  ];
  return serializeTflite(
    {
      tensors,
      operators: [{ op: 'FULLY_CONNECTED', version: 1, inputs: [0, 1, 2], outputs: [3] }],
      inputs: [0],
      outputs: [3],
    },
    'sparse test',
  );
}

test('valid sparse constants (CSR, block-sparse, column-first traversal; int32/uint16/uint8 indices) are read', () => {
  const info = inspectTflite(model());
  const byName = new Map(info.tensors.map((t) => [t.name, t]));
  assert.deepEqual(byName.get('w')!.sparsity, { values: 5, levels: ['DENSE', 'SPARSE_CSR'] });
  assert.equal(byName.get('w')!.constantBytes, 20);
  assert.deepEqual(byName.get('w')!.shape, [3, 4]);
  assert.deepEqual(byName.get('blocks')!.sparsity, { values: 6, levels: ['DENSE', 'SPARSE_CSR', 'DENSE'] });
  assert.deepEqual(byName.get('columns')!.sparsity, { values: 3, levels: ['DENSE', 'SPARSE_CSR'] });
  assert.equal(byName.get('b')!.sparsity, undefined, 'a dense tensor has no sparsity');
  assert.deepEqual(
    info.operators.map((o) => o.op),
    ['FULLY_CONNECTED'],
  );
});

test('without its sparsity metadata the same 5-value buffer is a [3,4] tensor with too few bytes: MODEL_CORRUPT', () => {
  assert.throws(
    () => inspectTflite(model({}, { denseWeight: true })),
    (e: unknown) =>
      isEdgetuneError(e, 'MODEL_CORRUPT') && /float32\[3,4\] \(48 bytes\) but its buffer holds 20/.test(e.message),
  );
});

test('damaged sparsity metadata is MODEL_CORRUPT, naming the tensor and what is wrong', () => {
  const csr = (segments: number[], indices: number[]): TflSparsity => ({
    traversalOrder: [0, 1],
    levels: [
      { format: 'DENSE', size: 3 },
      { format: 'SPARSE_CSR', segments, indices },
    ],
  });
  const cases: [string, Parameters<typeof model>[0], RegExp][] = [
    [
      'decreasing segments',
      { weight: { sparsity: csr([0, 3, 2, 5], [0, 3, 1, 0, 2]) } },
      /Tensor\[1\]\.sparsity\.dim_metadata\[1\]\.array_segments must start at 0 and never decrease/,
    ],
    ['segments not from 0', { weight: { sparsity: csr([1, 2, 3, 5], [0, 3, 1, 0, 2]) } }, /must start at 0/],
    [
      'segments of the wrong length',
      { weight: { sparsity: csr([0, 2, 5], [0, 3, 1, 0, 2]) } },
      /array_segments has 3 entries, expected 4/,
    ],
    [
      'an index past its dimension',
      { weight: { sparsity: csr([0, 2, 3, 5], [0, 4, 1, 0, 2]) } },
      /array_indices holds 4, outside dimension 1 of size 4/,
    ],
    [
      'indices and segments disagree',
      { weight: { sparsity: csr([0, 2, 3, 5], [0, 3, 1, 0]) } },
      /array_indices has 4 entries, its segments end at 5/,
    ],
    [
      'more values kept than stored',
      { weight: { data: f32(1, 2, 3, 4) } },
      /Tensor\[1\] is float32\[3,4\], sparse with 5 stored values \(20 bytes\) but its buffer holds 16 bytes/,
    ],
    [
      'a traversal order that is not a permutation',
      { weight: { sparsity: { ...CSR, traversalOrder: [0, 0] } } },
      /traversal_order \[0,0\] is not a permutation of 0\.\.1/,
    ],
    [
      'a dense size that disagrees with the shape',
      { weight: { sparsity: { ...CSR, levels: [{ format: 'DENSE', size: 2 }, CSR.levels[1]!] } } },
      /dim_metadata\[0\] is DENSE of size 2, but dimension 0 has 3/,
    ],
    [
      'too few levels',
      { weight: { sparsity: { traversalOrder: [0], levels: [{ format: 'DENSE', size: 3 }] } } },
      /has 1 dim_metadata for rank 2 with 0 block dimension\(s\)/,
    ],
    [
      'a block that does not divide its dimension',
      { blocks: { shape: [4, 3] } },
      /Tensor\[4\]\.sparsity: dimension 1 of size 3 is not a whole number of blocks of 2/,
    ],
    [
      'a block map naming a missing dimension',
      { blocks: { sparsity: { ...BLOCKS, blockMap: [2] } } },
      /block_map names dimension 2 of a rank-2 tensor/,
    ],
    [
      'a sparse block dimension',
      {
        blocks: {
          sparsity: {
            ...BLOCKS,
            levels: [
              BLOCKS.levels[0]!,
              BLOCKS.levels[1]!,
              { format: 'SPARSE_CSR', segments: [0, 1, 1, 2, 3], indices: [0, 0, 0] },
            ],
          },
        },
      },
      /block dimension 0 must be DENSE/,
    ],
    [
      'a uint16 index past its dimension',
      {
        columns: {
          sparsity: {
            ...COLUMNS,
            levels: [
              COLUMNS.levels[0]!,
              { format: 'SPARSE_CSR', segments: [0, 1, 1, 3], indices: [1, 0, 2], indexType: 'uint16' },
            ],
          },
        },
      },
      /Tensor\[5\]\.sparsity\.dim_metadata\[1\]\.array_indices holds 2, outside dimension 0 of size 2/,
    ],
  ];
  for (const [why, over, message] of cases)
    assert.throws(
      () => inspectTflite(model(over)),
      (e: unknown) => isEdgetuneError(e, 'MODEL_CORRUPT') && message.test((e as Error).message),
      why,
    );
});

test('an unknown index-vector type or level format in the bytes is MODEL_CORRUPT', () => {
  const good = model();
  // The writer emits DimensionMetadata's union type bytes as written; find the CSR level of `w` by its int32 type byte
  // next to its format byte and flip it to an undefined union member (7), then a level format to 2.
  const info = inspectTflite(good);
  assert.equal(info.tensors[1]!.sparsity!.values, 5);
  let flippedType = 0;
  let flippedFormat = 0;
  for (let p = 0; p < good.length; p++) {
    const copy = good.slice();
    copy[p] = 7;
    try {
      inspectTflite(copy);
    } catch (e) {
      if (isEdgetuneError(e, 'MODEL_CORRUPT') && /has index vector type 7 \(expected 1, 2 or 3\)/.test(e.message))
        flippedType++;
      if (isEdgetuneError(e, 'MODEL_CORRUPT') && /has format 7 \(DENSE 0 or SPARSE_CSR 1\)/.test(e.message))
        flippedFormat++;
    }
  }
  // Six union type bytes (segments + indices of three CSR levels) and the seven explicitly written level formats.
  assert.equal(flippedType, 6);
  assert.equal(flippedFormat, 7);
});
