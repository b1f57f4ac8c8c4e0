// face-api.js's own FaceRecognitionNet (dist/face-api.node-wasm.js, tfjs 4.22 cpu backend) on face crops.
const fs = require('fs');
const { PNG } = require('pngjs');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
const tf = faceapi.tf;
(async () => {
  await tf.setBackend('cpu'); await tf.ready();
  await faceapi.nets.faceRecognitionNet.loadFromDisk(require('path').dirname(require.resolve('@vladmandic/face-api/package.json')) + '/model');
  const out = {};
  for (const f of process.argv.slice(2)) {
    const png = PNG.sync.read(fs.readFileSync(f));
    const px = new Float32Array(150 * 150 * 3);
    for (let i = 0; i < 150 * 150; i++) for (let c = 0; c < 3; c++) px[i * 3 + c] = png.data[i * 4 + c];
    const d = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(tf.tensor4d(px, [1, 150, 150, 3]));
    out[f.split('/').pop()] = Array.from(d);
  }
  console.log(JSON.stringify(out));
})();
