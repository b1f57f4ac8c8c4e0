// Reference: face-api.js FaceRecognitionNet.forwardInput re-expressed with TF.js ops (cpu backend).
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
(async () => {
  await tf.setBackend('cpu'); await tf.ready();
  const manifest = JSON.parse(fs.readFileSync('./package/model/face_recognition_model-weights_manifest.json'));
  const bin = fs.readFileSync('./package/model/face_recognition_model.bin');
  const W = tf.io.decodeWeights(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), manifest[0].weights);
  const conv = (x, p, strides, relu, padding) => {
    let out = tf.conv2d(x, W[p + '/conv/filters'], strides, padding);
    out = tf.add(out, W[p + '/conv/bias']);
    out = tf.add(tf.mul(out, W[p + '/scale/weights']), W[p + '/scale/biases']);
    return relu ? tf.relu(out) : out;
  };
  const residual = (x, p) => tf.relu(tf.add(conv(conv(x, p + '/conv1', [1,1], true, 'same'), p + '/conv2', [1,1], false, 'same'), x));
  const residualDown = (x, p) => {
    let out = conv(conv(x, p + '/conv1', [2,2], true, 'valid'), p + '/conv2', [1,1], false, 'same');
    let pooled = tf.avgPool(x, 2, 2, 'valid');
    const zeros = tf.zeros(pooled.shape);
    const isPad = pooled.shape[3] !== out.shape[3];
    if (pooled.shape[1] !== out.shape[1] || pooled.shape[2] !== out.shape[2]) {
      const a = [...out.shape]; a[1] = 1; out = tf.concat([out, tf.zeros(a)], 1);
      const b = [...out.shape]; b[2] = 1; out = tf.concat([out, tf.zeros(b)], 2);
    }
    pooled = isPad ? tf.concat([pooled, zeros], 3) : pooled;
    return tf.relu(tf.add(pooled, out));
  };
  const px = new Float32Array(150 * 150 * 3);
  for (let y = 0; y < 150; y++) for (let x = 0; x < 150; x++) for (let c = 0; c < 3; c++)
    px[(y * 150 + x) * 3 + c] = Math.min(255, Math.max(0, Math.floor(128 + 60 * Math.sin(x / (7 + c)) + 40 * Math.cos(y / (5 + 2 * c)) + ((x * 31 + y * 17 + c * 7) % 41) - 20)));
  let x = tf.tensor4d(px, [1, 150, 150, 3]);
  x = tf.div(tf.sub(x, tf.tensor1d([122.782, 117.001, 104.298])), 255);
  let out = conv(x, 'conv32_down', [2,2], true, 'valid');
  out = tf.maxPool(out, 3, 2, 'valid');
  for (const p of ['conv32_1','conv32_2','conv32_3']) out = residual(out, p);
  out = residualDown(out, 'conv64_down');
  for (const p of ['conv64_1','conv64_2','conv64_3']) out = residual(out, p);
  out = residualDown(out, 'conv128_down');
  for (const p of ['conv128_1','conv128_2']) out = residual(out, p);
  out = residualDown(out, 'conv256_down');
  for (const p of ['conv256_1','conv256_2']) out = residual(out, p);
  out = residualDown(out, 'conv256_down_out');
  const d = tf.matMul(out.mean([1, 2]), W['fc']);
  console.log(JSON.stringify(Array.from(await d.data())));
})();
