// Writes a small TF.js graph model that uses the ops the ONNX converter supports, with deterministic
// weights, and the output TensorFlow.js computes for a deterministic input batch (the reference).
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
const out = process.argv[2] || '.';
let seed = 12345;
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 - 0.5; };
const weights = []; const buffers = [];
const nodes = [];
const b64 = s => Buffer.from(s).toString('base64');
function constant(name, shape, values, dtype = 'float32') {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = values || Array.from({ length: n }, () => rnd() * 0.5);
  weights.push({ name, shape, dtype });
  buffers.push(Buffer.from(dtype === 'int32' ? new Int32Array(v).buffer : new Float32Array(v).buffer));
  nodes.push({ name, op: 'Const', attr: { value: { tensor: { dtype: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT', tensorShape: { dim: shape.map(s => ({ size: String(s) })) } } }, dtype: { type: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' } } });
  return name;
}
function node(name, op, input, attr = {}) { nodes.push({ name, op, input, attr: { T: { type: 'DT_FLOAT' }, ...attr } }); return name; }
const ints = a => ({ list: { i: a.map(String) } });
const strs = a => ({ list: { s: a.map(b64) } });
const S = s => ({ s: b64(s) });

nodes.push({ name: 'image', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '-1' }, { size: '16' }, { size: '16' }, { size: '3' }] } } } });
let x = node('norm/sub', 'Sub', ['image', constant('c127', [], [127.5])]);
x = node('norm/mul', 'Mul', [x, constant('c128', [], [1 / 128])]);
// conv 3->8, stride 2, SAME, bias + relu
x = node('conv1', '_FusedConv2D', [x, constant('conv1/w', [3, 3, 3, 8]), constant('conv1/b', [8])], { strides: ints([1, 2, 2, 1]), padding: S('SAME'), data_format: S('NHWC'), dilations: ints([1, 1, 1, 1]), fused_ops: strs(['BiasAdd', 'Relu']), num_args: { i: '1' }, explicit_paddings: { list: {} } });
// depthwise 8 x2, SAME, bias + relu6
x = node('dw1', 'FusedDepthwiseConv2dNative', [x, constant('dw1/w', [3, 3, 8, 2]), constant('dw1/b', [16])], { strides: ints([1, 1, 1, 1]), padding: S('SAME'), data_format: S('NHWC'), dilations: ints([1, 1, 1, 1]), fused_ops: strs(['BiasAdd', 'Relu6']), num_args: { i: '1' }, explicit_paddings: { list: {} } });
// PReLU spelled as relu(x) + alpha * (x - |x|) * 0.5
const r = node('prelu/relu', 'Relu', [x]);
const a = node('prelu/abs', 'Abs', [x]);
const d = node('prelu/sub', 'Sub', [x, a]);
const m = node('prelu/mul', 'Mul', [d, constant('prelu/alpha', [16])]);
x = node('prelu/add', 'AddV2', [r, m]);
// explicit pad, plain conv VALID 16 -> 8 with dilation 1, then BiasAdd
x = node('pad1', 'Pad', [x, constant('pad1/p', [4, 2], [0, 0, 1, 2, 2, 1, 0, 0], 'int32')], { Tpaddings: { type: 'DT_INT32' } });
x = node('conv2', 'Conv2D', [x, constant('conv2/w', [3, 3, 16, 8])], { strides: ints([1, 1, 1, 1]), padding: S('VALID'), data_format: S('NHWC'), dilations: ints([1, 1, 1, 1]), explicit_paddings: { list: {} } });
x = node('conv2/bias', 'BiasAdd', [x, constant('conv2/b', [8])], { data_format: S('NHWC') });
x = node('leaky', 'LeakyRelu', [x], { alpha: { f: 0.1 } });
// conv with fused prelu, stride 1, SAME
x = node('conv3', '_FusedConv2D', [x, constant('conv3/w', [1, 1, 8, 8]), constant('conv3/b', [8]), constant('conv3/alpha', [8])], { strides: ints([1, 1, 1, 1]), padding: S('SAME'), data_format: S('NHWC'), dilations: ints([1, 1, 1, 1]), fused_ops: strs(['BiasAdd', 'Prelu']), num_args: { i: '2' }, explicit_paddings: { list: {} } });
// two pools, concatenated on channels
const p1 = node('maxpool', 'MaxPool', [x], { ksize: ints([1, 2, 2, 1]), strides: ints([1, 2, 2, 1]), padding: S('SAME'), data_format: S('NHWC') });
const p2a = node('avgpool', 'AvgPool', [x], { ksize: ints([1, 3, 3, 1]), strides: ints([1, 2, 2, 1]), padding: S('SAME'), data_format: S('NHWC') });
const p2 = node('elu', 'Elu', [p2a]);
x = node('concat', 'ConcatV2', [p1, p2, constant('concat/axis', [], [3], 'int32')], { N: { i: '2' }, Tidx: { type: 'DT_INT32' } });
x = node('bn', 'FusedBatchNormV3', [x, constant('bn/scale', [16]), constant('bn/offset', [16]), constant('bn/mean', [16]), constant('bn/var', [16], Array.from({ length: 16 }, (_, i) => 0.5 + i / 16))], { epsilon: { f: 0.001 }, data_format: S('NHWC'), is_training: { b: false }, U: { type: 'DT_FLOAT' } });
x = node('clip', 'Minimum', [node('clip/max', 'Maximum', [x, constant('clip/lo', [], [-2])]), constant('clip/hi', [16])]);
// a per-pixel constant (H and W dims) broadcast against the feature map
x = node('spatial', 'Mul', [x, constant('spatial/k', [5, 5, 1])]);
// global pooling two ways: mean without keep_dims; max with keep_dims then squeeze
const g1 = node('gap', 'Mean', [x, constant('gap/axes', [2], [1, 2], 'int32')], { keep_dims: { b: false }, Tidx: { type: 'DT_INT32' } });
const g2k = node('gmp', 'Max', [x, constant('gmp/axes', [2], [1, 2], 'int32')], { keep_dims: { b: true }, Tidx: { type: 'DT_INT32' } });
const g2 = node('gmp/squeeze', 'Squeeze', [g2k], { squeeze_dims: ints([1, 2]) });
// a flatten through reshape of the NHWC map (order matters)
const flat = node('flat', 'Reshape', [x, constant('flat/shape', [2], [-1, 400], 'int32')], { Tshape: { type: 'DT_INT32' } });
const f1 = node('fc0', 'MatMul', [flat, constant('fc0/w', [8, 400])], { transpose_a: { b: false }, transpose_b: { b: true } });
x = node('sum', 'AddV2', [node('sum0', 'AddV2', [g1, g2]), node('fc0/tanh', 'Tanh', [node('fc0/narrow', 'MatMul', [f1, constant('fc0/w2', [8, 16])], { transpose_a: { b: false }, transpose_b: { b: false } })])]);
x = node('fc1', '_FusedMatMul', [x, constant('fc1/w', [16, 12]), constant('fc1/b', [12])], { transpose_a: { b: false }, transpose_b: { b: false }, fused_ops: strs(['BiasAdd', 'Sigmoid']), num_args: { i: '1' }, epsilon: { f: 0 } });
x = node('div', 'RealDiv', [x, node('sqrt', 'Sqrt', [node('exp', 'Exp', [node('neg', 'Neg', [constant('divc', [12])])])])]);
// L2 normalisation as the face graphs spell it
const sq = node('l2/square', 'Square', [x]);
const su = node('l2/sum', 'Sum', [sq, constant('l2/axes', [1], [1], 'int32')], { keep_dims: { b: true }, Tidx: { type: 'DT_INT32' } });
const mx = node('l2/max', 'Maximum', [su, constant('l2/eps', [], [1e-10])]);
const rs = node('l2/rsqrt', 'Rsqrt', [mx]);
node('embedding', 'Mul', [x, rs]);
// a second output that the converter must not pick (narrower)
node('extra', 'Softmax', [node('extra/fc', 'MatMul', [g1, constant('extra/w', [16, 4])], { transpose_a: { b: false }, transpose_b: { b: false } })]);

const bin = Buffer.concat(buffers);
const model = { format: 'graph-model', generatedBy: 'facenet-dotnet test generator', convertedBy: null, modelTopology: { node: nodes, library: {}, versions: { producer: 1 } }, weightsManifest: [{ paths: ['graph.bin'], weights }] };
fs.writeFileSync(out + '/graph.json', JSON.stringify(model));
fs.writeFileSync(out + '/graph.bin', bin);
(async () => {
  await tf.setBackend('cpu');
  const g = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: model.modelTopology, weightSpecs: weights, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), format: 'graph-model' }));
  const px = new Float32Array(2 * 16 * 16 * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 37 + Math.floor(i / 7) * 11) % 256;
  const y = g.execute(tf.tensor4d(px, [2, 16, 16, 3]), 'embedding');
  fs.writeFileSync(out + '/graph_tfjs_output.json', JSON.stringify({ input: 'pixel i of the [2,16,16,3] batch = (i*37 + floor(i/7)*11) mod 256', shape: y.shape, output: Array.from(await y.data()) }));
  console.log(y.shape, Array.from(await y.data()).slice(0, 6));
})();
